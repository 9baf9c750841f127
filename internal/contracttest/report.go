package contracttest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// describe turns a validation error into one line per mismatch, each prefixed with where it
// was found. kin-openapi nests its errors (a MultiError of RequestErrors, each holding a
// MultiError of SchemaErrors, some wrapping more) and joins them with " | " plus a dump of
// every schema and value, which buries the line that matters in a failing test's output.
func describe(prefix string, err error) []string {
	if causes := causesOf(err); causes != nil {
		var lines []string
		for _, cause := range causes {
			lines = append(lines, describe(prefix, cause)...)
		}
		return lines
	}
	switch e := err.(type) {
	case *openapi3filter.RequestError:
		if causesOf(e.Err) != nil {
			head := *e
			head.Err = nil
			return describe(prefix+": "+strings.TrimSuffix(head.Error(), ": "), e.Err)
		}
	case *openapi3filter.ResponseError:
		if causesOf(e.Err) != nil {
			return describe(prefix+": "+e.Reason, e.Err)
		}
	}
	return []string{prefix + ": " + oneLine(err.Error())}
}

// causesOf returns the errors err merely groups, or nil if err is a mismatch of its own.
func causesOf(err error) openapi3.MultiError {
	switch e := err.(type) {
	case openapi3.MultiError:
		return e
	case *openapi3.SchemaError:
		// A wrapper (allOf, or a node of the JSON Schema 2020-12 validator's error tree):
		// its causes carry their own locations.
		var inner openapi3.MultiError
		if e.Origin != nil && errors.As(e.Origin, &inner) {
			return inner
		}
	}
	return nil
}

// schemaErrorMessage is the validator's message for one failing value: where it is and why,
// without the schema and value dumps kin-openapi appends by default.
func schemaErrorMessage(err *openapi3.SchemaError) string {
	if causesOf(err) != nil {
		return "" // describe splits wrappers into their causes
	}
	location := "/" + strings.Join(err.JSONPointer(), "/")
	reason := err.Reason
	// The JSON Schema 2020-12 validator (kin-openapi uses it for OpenAPI 3.1 schemas without a
	// $ref) words its reasons as `error at "/x": at '/x': why`, leaving out the first part at
	// the root.
	if rest, ok := strings.CutPrefix(reason, `error at "`); ok {
		if loc, why, found := strings.Cut(rest, `": `); found {
			location, reason = loc, why
		}
	}
	if rest, ok := strings.CutPrefix(reason, "at '"); ok {
		if _, why, found := strings.Cut(rest, "': "); found {
			reason = why
		}
	}
	if reason == "" && err.Origin != nil {
		reason = err.Origin.Error()
	}
	if reason == "" {
		reason = fmt.Sprintf("does not satisfy %q", err.SchemaField)
	}
	return fmt.Sprintf("at %q: %s", location, reason)
}

// oneLine folds a multi-line message so that each mismatch stays on one line of test output.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
