package contracttest

import (
	"slices"
	"strings"
	"testing"
)

// record notes that route answered with status. Only a success counts as coverage: an
// endpoint whose tests only ever see 401s has not had its real response shape checked. A 303
// See Other is a success too: the console's form posts answer it (post, redirect, get).
func (s *Spec) record(route Route, status int) {
	if (status < 200 || status > 299) && status != 303 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.covered[route] = true
}

// Covered lists the operations that have answered a request with a 2xx status through any
// client of this Spec so far, sorted like Routes.
func (s *Spec) Covered() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Route
	for _, r := range s.routes {
		if s.covered[r] {
			out = append(out, r)
		}
	}
	return out
}

// Uncovered lists the operations that have never answered with a 2xx status, leaving out those
// named in exclude ("GET /metrics"). It suits a TestMain, which has no testing.TB.
func (s *Spec) Uncovered(exclude ...string) []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Route
	for _, r := range s.routes {
		if !s.covered[r] && !slices.Contains(exclude, r.String()) {
			out = append(out, r)
		}
	}
	return out
}

// AssertAllCovered fails the test, listing them, if some operations have never answered with a
// 2xx status. exclude names operations that are deliberately left untested, as "METHOD /path"
// exactly as Routes prints them; a name that matches no operation is an error too, so that an
// exclusion cannot outlive its endpoint or hide a typo.
func (s *Spec) AssertAllCovered(tb testing.TB, exclude ...string) {
	tb.Helper()
	for _, name := range exclude {
		if !slices.ContainsFunc(s.routes, func(r Route) bool { return r.String() == name }) {
			tb.Errorf("contracttest: excluded operation %q is not in the contract", name)
		}
	}
	missing := s.Uncovered(exclude...)
	if len(missing) == 0 {
		return
	}
	var b strings.Builder
	for _, r := range missing {
		b.WriteString("\n\t" + r.String())
	}
	tb.Errorf("contracttest: %d operations of the contract were never exercised with a 2xx response:%s",
		len(missing), b.String())
}
