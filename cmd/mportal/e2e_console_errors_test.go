package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/console"
)

// TestConsoleErrorPages checks that an error of a console page or form reaches the browser as a
// console page (layout, message, back link, CSP) with the API's status, while the console's
// scripts keep their problem documents; and that a cleared number on a form is no error.
func TestConsoleErrorPages(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.adminToken()
	ops := ts.newOps(admin, "OPS1")
	ts.createApp(ops, "portal")
	_, s := ts.consoleSignIn("OPS1", "OPS1-passphrase")
	en := withHeader("Accept-Language", "en")

	page := func(t *testing.T, r response, status int, code string) string {
		t.Helper()
		ts.with(t).must(r, status)
		body := string(r.body)
		if got, _ := r.consoleProblem(); got != code || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("status %d answered %q (code %q), want the console's error page with code %s:\n%s",
				status, r.header.Get("Content-Type"), got, code, body)
		}
		if r.header.Get("Content-Security-Policy") != console.CSP || !strings.Contains(body, `<link rel="stylesheet" href="/console/static/console.css">`) {
			t.Errorf("the error page lacks the console's CSP or layout:\n%s", body)
		}
		return body
	}

	t.Run("shows a missing object as a 404 page with the menu and a way back", func(t *testing.T) {
		ts := ts.with(t)
		body := page(t, ts.call("GET", "/console/feedback/no-such-item", "", nil, s.cookies(), en,
			withHeader("Referer", ts.base+"/console/feedback?status=new")), 404, "not_found")
		if !strings.Contains(body, "<nav") || !strings.Contains(body, `id="back" href="/console/feedback?status=new"`) || !strings.Contains(body, "Not found") {
			t.Errorf("the 404 page lacks the menu, the back link or its title:\n%s", body)
		}
		// Not on the contract client: an address no operation has must be a problem there.
		req, err := http.NewRequest("GET", ts.base+"/console/no-such-screen", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		body = page(t, response{status: resp.StatusCode, header: resp.Header, body: raw}, 404, "not_found")
		if !strings.Contains(body, `id="back" href="/console/"`) || strings.Contains(body, "<nav") {
			t.Errorf("an unknown address, signed out:\n%s", body)
		}
	})

	t.Run("shows a bad value as a 400 page naming the field", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.call("GET", "/console/feedback?from=yesterday", "", nil, s.cookies(), en)
		page(t, r, 400, "invalid")
		if _, field := r.consoleProblem(); field != "from" {
			t.Errorf("field %q, want from", field)
		}
		r = ts.consolePost(s, "/console/apps/portal/channels/beta", url.Values{"cap": {"lots"}}, en)
		page(t, r, 400, "invalid")
	})

	t.Run("shows a conflict as a 409 page", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.consolePost(s, "/console/training/videos", url.Values{"title": {"Not failed"}}), 303)
		page(t, ts.consolePost(s, r.header.Get("Location")+"/retry", nil, en), 409, "conflict")
	})

	t.Run("keeps the problem document for the console's scripts", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.consolePost(s, "/console/apps/no-such-app/builds", url.Values{"upload_key": {"x"}},
			withHeader("Accept", "application/json")), 404)
		if !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") || r.problemCode() != "not_found" {
			t.Errorf("a script's request answered %q: %s", r.header.Get("Content-Type"), r.body)
		}
	})

	t.Run("treats a cleared number on the channel form as none", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.consolePost(s, "/console/apps/portal/channels/beta", url.Values{"cap": {"5"}, "retention": {"2"}}), 303)
		ts.must(ts.consolePost(s, "/console/apps/portal/channels/beta", url.Values{"cap": {""}, "retention": {" "}, "self_opt_in": {"true"}}), 303)
		var list struct {
			Items []struct {
				Name      string `json:"name"`
				Cap       int    `json:"cap"`
				Retention int    `json:"retention"`
				SelfOptIn bool   `json:"self_opt_in"`
			}
		}
		ts.must(ts.call("GET", "/v1/ops/apps/portal/channels", ops, nil), 200).json(t, &list)
		for _, ch := range list.Items {
			if ch.Name == "beta" && (ch.Cap != 0 || ch.Retention != 0 || !ch.SelfOptIn) {
				t.Errorf("the API's channel after clearing cap and retention: %+v", ch)
			}
		}
	})
}
