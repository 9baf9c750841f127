package contracttest

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// exchange carries what checkRequest learned about a request over to checkResponse.
type exchange struct {
	input    *openapi3filter.RequestValidationInput // nil when no operation matched
	route    Route
	off      bool     // the test marked the request with OffContract
	problems []string // mismatches found so far, reported once the status is known
	// breaches are how an OffContract request breaks the contract: a server that answers
	// such a request with success is more lenient than its contract.
	breaches []string
}

// options are the validator's settings: every documented detail is checked except
// authentication, which is the server's business and which tests probe on purpose.
func options() *openapi3filter.Options {
	o := &openapi3filter.Options{
		MultiError: true,
		// Without it, a status the operation does not document passes unchecked.
		IncludeResponseStatus: true,
		// A body sent to an operation that takes none is a client bug the contract should catch.
		RejectWhenRequestBodyNotSpecified: true,
		// The validator would otherwise write schema defaults into the body it validates.
		SkipSettingDefaults: true,
		AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
	}
	o.WithCustomSchemaErrorFunc(schemaErrorMessage)
	return o
}

// checkRequest finds the operation req calls and validates req (with its body already read
// into body) against it.
func (s *Spec) checkRequest(req *http.Request, body []byte) *exchange {
	ex := &exchange{off: isOffContract(req)}

	// The validator reads the body and may replace it, so it works on its own copy.
	vreq := req.Clone(req.Context())
	vreq.Body, vreq.GetBody, vreq.ContentLength = http.NoBody, nil, int64(len(body))
	if len(body) > 0 {
		vreq.Body = io.NopCloser(bytes.NewReader(body))
	}

	route, params, err := s.router.FindRoute(vreq)
	if err != nil {
		if !ex.off {
			ex.problems = append(ex.problems, fmt.Sprintf("no operation of the contract matches this request (%v)", err))
		}
		return ex
	}
	ex.route = Route{Method: route.Method, Path: route.Path}
	ex.input = &openapi3filter.RequestValidationInput{
		Request:    vreq,
		PathParams: params,
		Route:      route,
		Options:    options(),
	}
	if err := openapi3filter.ValidateRequest(req.Context(), ex.input); err != nil {
		if ex.off {
			ex.breaches = describe("request", err)
		} else {
			ex.problems = append(ex.problems, describe("request", err)...)
		}
	}
	return ex
}

// checkResponse validates resp, whose body is body, against the operation ex matched, or
// against the problem schema when an off-contract request matched no operation.
func (s *Spec) checkResponse(ex *exchange, resp *http.Response, body []byte) []string {
	if ex.input == nil {
		if ex.off {
			return s.checkProblem(resp, body)
		}
		return nil
	}
	if !ex.off {
		s.record(ex.route, resp.StatusCode)
	}
	var problems []string
	if ex.off && len(ex.breaches) > 0 && resp.StatusCode < 400 {
		// The contract promises clients that such a request fails; a server that accepts it
		// lets clients depend on what the contract forbids.
		problems = append(problems, fmt.Sprintf("response: status %d accepts a request that breaks the contract:", resp.StatusCode))
		for _, b := range ex.breaches {
			problems = append(problems, "  "+b)
		}
	}

	documented := ex.input.Route.Operation.Responses.Status(resp.StatusCode)
	if documented == nil {
		documented = ex.input.Route.Operation.Responses.Default()
	}
	if documented == nil || documented.Value == nil {
		// kin-openapi words this one well ("status is not supported").
		return append(problems, validateResponse(ex.input, ex.input.Route, resp, body)...)
	}

	// kin-openapi stops at the first bad header before it looks at the body, so a missing
	// X-Request-ID would hide every body mismatch. Check the body and each header separately.
	bodyOnly := *documented.Value
	bodyOnly.Headers = nil
	problems = append(problems, validateResponse(ex.input, withResponse(ex.input.Route, resp.StatusCode, &bodyOnly), resp, body)...)
	problems = append(problems, undeclaredHeaders(resp, documented.Value)...)
	for _, name := range slices.Sorted(maps.Keys(documented.Value.Headers)) {
		headerOnly := *documented.Value
		headerOnly.Content = nil
		headerOnly.Headers = openapi3.Headers{name: documented.Value.Headers[name]}
		problems = append(problems, validateResponse(ex.input, withResponse(ex.input.Route, resp.StatusCode, &headerOnly), resp, nil)...)
	}

	// kin-openapi checks a body where the contract documents one, but lets a body through
	// where the contract documents none, such as a 204.
	if len(documented.Value.Content) == 0 && len(body) > 0 {
		problems = append(problems, fmt.Sprintf("response: the contract documents no body for status %d, got %d bytes (Content-Type %q)",
			resp.StatusCode, len(body), resp.Header.Get("Content-Type")))
	}
	// A Content-Type names the type of a body; with none documented (a 204, a redirect, any
	// answer to HEAD) it announces a body that is not there.
	if ct := resp.Header.Get("Content-Type"); len(documented.Value.Content) == 0 && ct != "" {
		problems = append(problems, fmt.Sprintf("response: Content-Type %q, but the contract documents no body for status %d", ct, resp.StatusCode))
	}
	return problems
}

// ambientHeaders are response headers that need no mention in the contract: HTTP's own
// framing, caching and CORS headers and the no-sniffing directive, which clients handle (or
// ignore) without being told.
var ambientHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Date": true, "Connection": true, "Keep-Alive": true,
	"Transfer-Encoding": true, "Server": true, "Vary": true, "Cache-Control": true, "X-Content-Type-Options": true,
}

// undeclaredHeaders reports the headers of resp that the documented response does not
// declare: a header clients may come to rely on must be in the contract.
func undeclaredHeaders(resp *http.Response, documented *openapi3.Response) []string {
	declared := make(map[string]bool, len(documented.Headers))
	for name := range documented.Headers {
		declared[http.CanonicalHeaderKey(name)] = true
	}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(resp.Header)) {
		if ambientHeaders[name] || declared[name] || strings.HasPrefix(name, "Access-Control-") {
			continue
		}
		problems = append(problems, fmt.Sprintf("response: header %q is not declared for status %d", name, resp.StatusCode))
	}
	return problems
}

// validateResponse runs kin-openapi's response validation as if req had matched route.
func validateResponse(req *openapi3filter.RequestValidationInput, route *routers.Route, resp *http.Response, body []byte) []string {
	reqIn := *req
	reqIn.Route = route
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &reqIn,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                req.Options,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Request.Context(), in); err != nil {
		return describe("response", err)
	}
	return nil
}

// withResponse returns a copy of route whose operation documents only response for status.
func withResponse(route *routers.Route, status int, response *openapi3.Response) *routers.Route {
	op := *route.Operation
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(status, &openapi3.ResponseRef{Value: response}))
	copied := *route
	copied.Operation = &op
	return &copied
}

// checkProblem requires the answer to a request for an unknown endpoint to be an error status
// with a problem document.
func (s *Spec) checkProblem(resp *http.Response, body []byte) []string {
	var problems []string
	if resp.StatusCode < 400 {
		problems = append(problems, fmt.Sprintf("response: status %d for a request that matches no operation; want an error status", resp.StatusCode))
	}
	if resp.Header.Get("X-Request-ID") == "" {
		problems = append(problems, "response: header X-Request-ID is missing")
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "application/problem+json" {
		return append(problems, fmt.Sprintf("response: Content-Type %q, want application/problem+json", ct))
	}
	schema := s.doc.Components.Schemas["Problem"]
	value, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(body), resp.Header, schema, nil)
	if err != nil {
		return append(problems, fmt.Sprintf("response: body is not JSON: %v", err))
	}
	err = schema.Value.VisitJSON(value,
		openapi3.EnableJSONSchema2020(), openapi3.MultiErrors(), openapi3.VisitAsResponse(),
		openapi3.SetSchemaErrorMessageCustomizer(schemaErrorMessage))
	if err != nil {
		problems = append(problems, describe("response body doesn't match schema Problem", err)...)
	}
	return problems
}
