package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/testenv"
)

// TestConsoleSessionRenewal: the console's session outlives its 15-minute access token while
// the browser is used (the refresh token in its own cookie renews it), also when several tabs
// renew at the same moment, and ends after 8 hours without a request and at sign-out. The clock
// is the server's test clock: no real minutes pass.
func TestConsoleSessionRenewal(t *testing.T) {
	clock := testenv.NewClock(time.Date(2031, 5, 4, 8, 0, 0, 0, time.UTC))
	ts := startServer(t, testEnv(t, nil), func(m *Main) { m.Clock = clock.Now })
	admin := ts.adminToken()
	employeeID, _ := ts.newEmployee(admin, "E5001", "Sales")
	dashboard := func(ts *testServer, s consoleSession, status int) response {
		ts.t.Helper()
		return ts.must(ts.call("GET", "/console/", "", nil, s.cookies(), withHeader("Accept-Language", "en")), status)
	}
	consoleSessions := func(ts *testServer) int {
		ts.t.Helper()
		// The admin's API token of the moment (the clock has moved past the first one's expiry).
		token := ts.login("admin", "admin-passphrase-1", "admin-laptop").AccessToken
		var list struct {
			Items []struct {
				DeviceID string `json:"device_id"`
			}
		}
		ts.must(ts.call("GET", "/v1/auth/sessions", token, nil), 200).json(ts.t, &list)
		n := 0
		for _, it := range list.Items {
			if it.DeviceID == "console-web" {
				n++
			}
		}
		return n
	}

	t.Run("keeps the refresh token in an HttpOnly, SameSite=Strict cookie on /console for 8 hours", func(t *testing.T) {
		ts := ts.with(t)
		r, s := ts.consoleSignIn("admin", "admin-passphrase-1")
		ts.must(r, 303)
		if s.refresh == "" || s.refresh == "mportal_console_refresh=" {
			t.Fatalf("sign-in set no refresh cookie: %q", r.header.Values("Set-Cookie"))
		}
		for _, c := range r.header.Values("Set-Cookie") {
			if !strings.HasPrefix(c, "mportal_console_refresh=") {
				continue
			}
			for _, want := range []string{"httponly", "samesite=strict", "path=/console;", "max-age=28800"} {
				if !strings.Contains(strings.ToLower(c), want) {
					t.Errorf("refresh cookie %q lacks %s", c, want)
				}
			}
		}
		ts.must(ts.consolePost(s, "/console/logout", nil), 303)
	})

	t.Run("renews the session of a browser in use past the access token's 15 minutes", func(t *testing.T) {
		ts := ts.with(t)
		_, s := ts.consoleSignIn("admin", "admin-passphrase-1")
		for i := range 3 {
			clock.Advance(16 * time.Minute)
			// A form typed for a quarter of an hour is still accepted.
			status := []string{"disabled", "active"}[i%2]
			r := ts.must(ts.consolePost(s, "/console/users/"+employeeID+"/status", url.Values{"status": {status}}), 303)
			old := s.refresh
			s.update(r)
			if s.refresh == old || s.refresh == "mportal_console_refresh=" {
				t.Fatalf("renewal %d set no new refresh cookie: %q", i, r.header.Values("Set-Cookie"))
			}
			if st := userStatus(ts, ts.login("admin", "admin-passphrase-1", "admin-laptop").AccessToken, employeeID); st != status {
				t.Fatalf("status %q after the post, want %q", st, status)
			}
		}
		// Within the access token's lifetime, pages do not renew it.
		clock.Advance(time.Minute)
		if set := dashboard(ts, s, 200).header.Values("Set-Cookie"); strings.Contains(strings.Join(set, ";"), "mportal_console_refresh=") {
			t.Errorf("a fresh access token was renewed: %q", set)
		}
		ts.must(ts.consolePost(s, "/console/logout", nil), 303)
	})

	t.Run("lets tabs renew at the same moment without ending the session", func(t *testing.T) {
		ts := ts.with(t)
		_, s := ts.consoleSignIn("admin", "admin-passphrase-1")
		// The access token has 3 minutes left: every tab's request renews it at once.
		clock.Advance(12 * time.Minute)
		const tabs = 8
		answers := make([]response, tabs)
		errs := make([]error, tabs)
		var wg sync.WaitGroup
		for i := range tabs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := http.NewRequest("GET", ts.base+"/console/", nil)
				if err != nil {
					errs[i] = err
					return
				}
				s.cookies()(req)
				resp, err := ts.client.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				answers[i], errs[i] = response{status: resp.StatusCode, header: resp.Header, body: body}, err
			}()
		}
		wg.Wait()
		var latest consoleSession
		for i, r := range answers {
			if errs[i] != nil {
				t.Fatalf("tab %d: %v", i, errs[i])
			}
			if r.status != 200 {
				t.Fatalf("tab %d: status %d:\n%s", i, r.status, r.body)
			}
			tab := s
			tab.update(r)
			if i > 0 && tab.refresh != latest.refresh {
				t.Errorf("tab %d got refresh cookie %q, tab 0 %q: the tabs' renewals rotated the token more than once", i, tab.refresh, latest.refresh)
			}
			latest = tab
		}
		// Whichever tab's cookies the browser kept, the session goes on.
		clock.Advance(16 * time.Minute)
		r := dashboard(ts, latest, 200)
		latest.update(r)
		clock.Advance(16 * time.Minute)
		dashboard(ts, latest, 200)
		ts.must(ts.consolePost(latest, "/console/logout", nil), 303)
	})

	t.Run("signs out a browser left for 8 hours without a request", func(t *testing.T) {
		ts := ts.with(t)
		before := consoleSessions(ts)
		_, s := ts.consoleSignIn("admin", "admin-passphrase-1")
		if n := consoleSessions(ts); n != before+1 {
			t.Fatalf("%d console sessions after sign-in, want %d", n, before+1)
		}
		clock.Advance(7 * time.Hour)
		s.update(dashboard(ts, s, 200)) // renewed: 8 more hours
		clock.Advance(8*time.Hour + time.Minute)
		r := dashboard(ts, s, 401)
		if !strings.Contains(string(r.body), `action="/console/login"`) {
			t.Errorf("an idle browser is shown:\n%s", r.body)
		}
		set := strings.Join(r.header.Values("Set-Cookie"), "\n")
		for _, want := range []string{"mportal_console=;", "mportal_console_refresh=;"} {
			if !strings.Contains(set, want) {
				t.Errorf("the idle sign-out does not clear %s: %q", want, set)
			}
		}
		if n := consoleSessions(ts); n != before {
			t.Errorf("%d console sessions after the idle limit, want %d: the session lives on", n, before)
		}
	})

	t.Run("revokes the session and clears both cookies at sign-out", func(t *testing.T) {
		ts := ts.with(t)
		before := consoleSessions(ts)
		_, s := ts.consoleSignIn("admin", "admin-passphrase-1")
		out := ts.must(ts.consolePost(s, "/console/logout", nil), 303)
		set := strings.Join(out.header.Values("Set-Cookie"), "\n")
		for _, want := range []string{"mportal_console=;", "mportal_console_refresh=;"} {
			if !strings.Contains(set, want) {
				t.Errorf("sign-out does not clear %s: %q", want, set)
			}
		}
		if n := consoleSessions(ts); n != before {
			t.Errorf("%d console sessions after sign-out, want %d", n, before)
		}
		// The refresh token kept by a copy of the cookies renews nothing.
		s.session = ""
		dashboard(ts, s, 401)
	})
}
