package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/contracttest"
)

// TestTheRouteTableAndTheContractListTheSameEndpoints compares the running server's routes (the
// one route table in api/api.go) with the operations of mobile-contract/openapi.yaml: every
// operation is routed, and every route is an operation, but for the few listed with a reason.
func TestTheRouteTableAndTheContractListTheSameEndpoints(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	notRouted := map[string]string{
		"GET /metrics": "served on the operators' own listener (MPORTAL_METRICS_ADDR), never on the API port",
	}
	notInContract := map[string]string{
		"OPTIONS /v1/uploads":            "tus discovery of the server's extensions, answered by tusd",
		"OPTIONS /v1/uploads/:upload_id": "tus discovery of the server's extensions, answered by tusd",
		"POST /v1/uploads/:upload_id":    "tus PATCH sent as POST with X-HTTP-Method-Override, for clients that cannot send PATCH",
	}

	type route struct{ method, path string }
	var routes []route
	gets := map[string]bool{}
	for _, r := range ts.main.server.App().GetRoutes(true) {
		routes = append(routes, route{r.Method, r.Path})
		if r.Method == "GET" {
			gets[r.Path] = true
		}
	}
	// serves says whether the route with Fiber path pattern (":name" one segment) answers the
	// contract's operation (with "{name}" one segment). Routing is not strict: a trailing slash
	// does not matter.
	serves := func(r route, method, path string) bool {
		if r.method != method {
			return false
		}
		re := regexp.QuoteMeta(strings.TrimSuffix(r.path, "/"))
		re = regexp.MustCompile(`:[a-z_]+`).ReplaceAllString(re, `[^/]+`)
		concrete := regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(strings.TrimSuffix(path, "/"), "x")
		return regexp.MustCompile("^" + re + "$").MatchString(concrete)
	}

	operations := ts.spec.Routes()
	for _, op := range operations {
		if _, ok := notRouted[op.String()]; ok {
			continue
		}
		if !slices.ContainsFunc(routes, func(r route) bool { return serves(r, op.Method, op.Path) }) {
			t.Errorf("the contract's %s has no route in api/api.go", op)
		}
	}
	for _, r := range routes {
		name := r.method + " " + r.path
		if _, ok := notInContract[name]; ok {
			continue
		}
		if r.method == "HEAD" && gets[r.path] {
			continue // Fiber registers HEAD with every GET
		}
		if !slices.ContainsFunc(operations, func(op contracttest.Route) bool { return serves(r, op.Method, op.Path) }) {
			t.Errorf("route %s is not in mobile-contract/openapi.yaml", name)
		}
	}
}
