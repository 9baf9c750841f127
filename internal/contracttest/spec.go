// Package contracttest checks HTTP traffic against the mobile contract
// (mobile-contract/openapi.yaml). End-to-end tests talk to the server through Spec.Client, whose
// transport validates every request before it is sent and every response after it arrives, and
// reports each mismatch as a test error. At the end they call AssertAllCovered, so that every
// operation of the contract has been exercised successfully at least once:
//
//	spec := contracttest.Load(t)
//	client := spec.Client(t, nil)
//	resp, err := client.Get(baseURL + "/v1/me") // a mismatch is reported with t.Errorf
//	...
//	// A negative test that breaks the contract on purpose:
//	resp, err = client.Do(contracttest.OffContract(reqWithoutPassword))
//	...
//	spec.AssertAllCovered(t, "GET /metrics") // the suite's last step
//
// The TB given to Client receives the reports, so it must outlive every request made with the
// client: give each (sub)test the client of its own t, or share one from a parent that waits.
package contracttest

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	mobilecontract "github.com/mportal/mportal/mobile-contract"
)

// Spec is the loaded, validated contract. It is safe for concurrent use.
type Spec struct {
	doc    *openapi3.T
	router routers.Router
	routes []Route

	mu      sync.Mutex
	covered map[Route]bool
}

// Route names one operation of the contract by its method and path template.
type Route struct {
	Method string // upper case, such as "POST"
	Path   string // the template as written in the contract, such as "/v1/devices/{device_id}"
}

// String returns the route as "METHOD /path", the form AssertAllCovered's exclusions use.
func (r Route) String() string { return r.Method + " " + r.Path }

var (
	loadOnce   sync.Once
	sharedSpec *Spec
	errLoad    error
)

// Load returns the contract embedded in package mobilecontract, parsed and validated once per
// test binary. Every call returns the same *Spec, so coverage accumulates across all the tests
// of a package. A contract that does not load or validate fails the test at once.
func Load(tb testing.TB) *Spec {
	tb.Helper()
	loadOnce.Do(func() { sharedSpec, errLoad = parse(mobilecontract.OpenAPI) })
	if errLoad != nil {
		tb.Fatalf("contracttest: mobile-contract/openapi.yaml is broken: %v", errLoad)
	}
	return sharedSpec
}

// parse loads and validates an OpenAPI 3.1 document. The version check matters: kin-openapi
// switches to JSON Schema 2020-12 (type arrays with "null", examples) only for 3.1+ documents,
// and a 3.0 document would silently validate nullable fields differently.
func parse(data []byte) (*Spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("the contract is OpenAPI %q; the harness expects 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableMultiError()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}

	// The router matches servers by host and base path. Tests run against httptest servers on
	// random ports, so route a copy whose only server is "/": requests then match by path alone,
	// whatever servers the contract lists for production.
	routed := *doc
	routed.Servers = openapi3.Servers{{URL: "/"}}
	router, err := gorillamux.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}

	s := &Spec{doc: doc, router: router, covered: make(map[Route]bool)}
	for path, item := range doc.Paths.Map() {
		if len(item.Servers) > 0 {
			return nil, fmt.Errorf("path %s has its own servers; the harness routes by path only", path)
		}
		for method := range item.Operations() {
			s.routes = append(s.routes, Route{Method: method, Path: path})
		}
	}
	slices.SortFunc(s.routes, func(a, b Route) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
	})
	return s, nil
}

// Doc returns the parsed contract. Callers must not modify it.
func (s *Spec) Doc() *openapi3.T { return s.doc }

// Routes lists every operation of the contract, sorted by path and then method.
func (s *Spec) Routes() []Route { return slices.Clone(s.routes) }
