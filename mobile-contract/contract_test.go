package mobilecontract_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mportal/mportal/internal/contracttest"
	mobilecontract "github.com/mportal/mportal/mobile-contract"
)

func TestOpenAPIIsEmbedded(t *testing.T) {
	if !bytes.HasPrefix(mobilecontract.OpenAPI, []byte("openapi: 3.1.0\n")) {
		t.Fatalf("OpenAPI starts with %q, want the 3.1.0 document", mobilecontract.OpenAPI[:min(40, len(mobilecontract.OpenAPI))])
	}
}

// TestExamples keeps the example files the README points app developers to in step with the
// contract: each must validate against the schema it illustrates.
func TestExamples(t *testing.T) {
	examples := map[string]struct {
		schema  string
		request bool
	}{
		"login-request.json":                    {schema: "LoginRequest", request: true},
		"login-response.json":                   {schema: "TokenResponse"},
		"refresh-request.json":                  {schema: "RefreshRequest", request: true},
		"device-checkin-request.json":           {schema: "DeviceInput", request: true},
		"device.json":                           {schema: "Device"},
		"inbox-page.json":                       {schema: "InboxPage"},
		"notification-preferences-request.json": {schema: "NotificationPreferencesInput", request: true},
		"problem-unauthorized.json":             {schema: "Problem"},
		"problem-invalid.json":                  {schema: "Problem"},
	}
	files, err := filepath.Glob("examples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	if want := slices.Sorted(maps.Keys(examples)); !slices.Equal(files, want) {
		t.Fatalf("examples/ holds %v, want exactly %v: add new files to this test", files, want)
	}

	schemas := contracttest.Load(t).Doc().Components.Schemas
	for file, ex := range examples {
		t.Run(file+" is a valid "+ex.schema, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("examples", file))
			if err != nil {
				t.Fatal(err)
			}
			var value any
			if err := json.Unmarshal(data, &value); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			schema := schemas[ex.schema]
			if schema == nil {
				t.Fatalf("the contract has no schema %s", ex.schema)
			}
			direction := openapi3.VisitAsResponse()
			if ex.request {
				direction = openapi3.VisitAsRequest()
			}
			if err := schema.Value.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors(), direction); err != nil {
				t.Fatalf("does not match %s: %v", ex.schema, err)
			}
		})
	}
}
