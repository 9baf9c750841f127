package contracttest

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	mobilecontract "github.com/mportal/mportal/mobile-contract"
)

// freshSpec is a Spec with no coverage yet; Load's is shared by every test of the package.
func freshSpec(t *testing.T) *Spec {
	t.Helper()
	s, err := parse(mobilecontract.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, client *http.Client, url string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

func TestCoverage(t *testing.T) {
	t.Run("counts an operation once it answers with a 2xx", func(t *testing.T) {
		s := freshSpec(t)
		srv, _ := fakeServer(t, reply{contentType: "application/json", body: userJSON})
		get(t, s.Client(t, nil), srv.URL+"/v1/me")
		if got := s.Covered(); !slices.Equal(got, []Route{{Method: "GET", Path: "/v1/me"}}) {
			t.Fatalf("Covered() = %v, want [GET /v1/me]", got)
		}
	})
	t.Run("does not count errors or off-contract requests", func(t *testing.T) {
		s := freshSpec(t)
		srv, _ := fakeServer(t, reply{contentType: "application/problem+json", status: 401, body: problemJSON})
		get(t, s.Client(t, nil), srv.URL+"/v1/me")
		ok, _ := fakeServer(t, reply{contentType: "application/json", body: userJSON})
		req, _ := http.NewRequest(http.MethodGet, ok.URL+"/v1/me", nil)
		resp, err := s.Client(t, nil).Do(OffContract(req))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got := s.Covered(); len(got) != 0 {
			t.Fatalf("Covered() = %v, want none", got)
		}
	})
	t.Run("lists the operations never exercised", func(t *testing.T) {
		s := freshSpec(t)
		srv, _ := fakeServer(t, reply{contentType: "application/json", body: userJSON})
		get(t, s.Client(t, nil), srv.URL+"/v1/me")
		rec := &recorder{TB: t}
		s.AssertAllCovered(rec, "GET /metrics")
		got := rec.reported()
		if !strings.Contains(got, "\tPOST /v1/auth/login") {
			t.Errorf("report lacks POST /v1/auth/login:\n%s", got)
		}
		if strings.Contains(got, "\tGET /v1/me\n") || strings.Contains(got, "GET /metrics") {
			t.Errorf("report lists a covered or excluded operation:\n%s", got)
		}
		if want := len(s.Routes()) - 2; len(s.Uncovered("GET /metrics")) != want {
			t.Errorf("Uncovered() has %d operations, want %d", len(s.Uncovered("GET /metrics")), want)
		}
	})
	t.Run("rejects an exclusion that names no operation", func(t *testing.T) {
		s := freshSpec(t)
		rec := &recorder{TB: t}
		s.AssertAllCovered(rec, "GET /v1/metrics")
		if got := rec.reported(); !strings.Contains(got, `excluded operation "GET /v1/metrics" is not in the contract`) {
			t.Fatalf("report = %q, want the bad exclusion named", got)
		}
	})
	t.Run("passes once every operation is covered or excluded", func(t *testing.T) {
		s := freshSpec(t)
		srv, _ := fakeServer(t, reply{contentType: "application/json", body: userJSON})
		get(t, s.Client(t, nil), srv.URL+"/v1/me")
		var exclude []string
		for _, r := range s.Routes() {
			if r.String() != "GET /v1/me" {
				exclude = append(exclude, r.String())
			}
		}
		rec := &recorder{TB: t}
		s.AssertAllCovered(rec, exclude...)
		if got := rec.reported(); got != "" {
			t.Fatalf("AssertAllCovered reported:\n%s", got)
		}
	})
}
