package main

import (
	"net/url"
	"strings"
	"testing"
)

// TestConsolePasswordChange checks the console's own password form: the first admin of a fresh
// install signs in with the one-time password the start printed, is sent to the form, can use
// nothing else until the password is changed, and changes it there with the rules of
// POST /v1/me/password; any console user reaches the form from the menu.
func TestConsolePasswordChange(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	oneTime := ts.adminPassword()
	en := withHeader("Accept-Language", "en")

	t.Run("sends the first admin to the password form and keeps every other page shut", func(t *testing.T) {
		ts := ts.with(t)
		r, s := ts.consoleSignIn("admin", oneTime)
		ts.must(r, 303)
		if got := r.header.Get("Location"); got != "/console/password" || s.session == "" {
			t.Fatalf("sign-in with a one-time password: Location %q, session cookie %q", got, s.session)
		}
		form := ts.must(ts.call("GET", "/console/password", "", nil, s.cookies(), en), 200)
		for _, want := range []string{`action="/console/password"`, "one-time password", `name="new_password_again"`, "Sign out"} {
			if !strings.Contains(string(form.body), want) {
				t.Errorf("the password form lacks %q:\n%s", want, form.body)
			}
		}
		for _, path := range []string{"/console/", "/console/users", "/console/apps"} {
			page := ts.must(ts.call("GET", path, "", nil, s.cookies(), en), 403)
			if !strings.Contains(string(page.body), `action="/console/password"`) || strings.Contains(string(page.body), "<nav") {
				t.Errorf("%s with a one-time password shows:\n%s", path, page.body)
			}
		}
		ts.must(ts.consolePost(s, "/console/users", url.Values{"employee_no": {"X1"}, "name": {"X"}}), 403)

		refused := func(form url.Values, status int, field string) {
			t.Helper()
			r := ts.must(ts.consolePost(s, "/console/password", form, en), status)
			if !strings.Contains(string(r.body), `id="`+field+`" name="`+field+`"`) ||
				!strings.Contains(string(r.body), `aria-invalid="true"`) || !strings.Contains(string(r.body), `id="password-problem"`) {
				t.Errorf("refusal not marked on %s:\n%s", field, r.body)
			}
		}
		refused(url.Values{"current_password": {"wrong-password-9"}, "new_password": {"admin-passphrase-1"},
			"new_password_again": {"admin-passphrase-1"}}, 400, "current_password")
		refused(url.Values{"current_password": {oneTime}, "new_password": {"short"}, "new_password_again": {"short"}}, 400, "new_password")
		refused(url.Values{"current_password": {oneTime}, "new_password": {"admin-passphrase-1"},
			"new_password_again": {"admin-passphrase-2"}}, 400, "new_password_again")
		ts.must(ts.consolePost(s, "/console/password", url.Values{"current_password": {oneTime}, "new_password": {"admin-passphrase-1"},
			"new_password_again": {"admin-passphrase-1"}, "csrf_token": {strings.Repeat("x", 43)}}), 403)

		done := ts.must(ts.consolePost(s, "/console/password", url.Values{"current_password": {oneTime},
			"new_password": {"admin-passphrase-1"}, "new_password_again": {"admin-passphrase-1"}}, en), 200)
		if !strings.Contains(string(done.body), "sign in with the new one") || !strings.Contains(string(done.body), `action="/console/login"`) {
			t.Errorf("after the change the console shows:\n%s", done.body)
		}
		if !strings.Contains(strings.Join(done.header.Values("Set-Cookie"), "\n"), "mportal_console=;") {
			t.Errorf("the session cookie was not cleared: %q", done.header.Values("Set-Cookie"))
		}
		ts.must(ts.call("GET", "/console/", "", nil, s.cookies()), 401)
		// The API's view: the new password signs in without a change required.
		if tk := ts.login("admin", "admin-passphrase-1", "admin-laptop"); tk.PasswordChangeRequired {
			t.Error("the API still requires a password change")
		}
	})

	t.Run("lets a signed-in admin change the password from the menu, audited", func(t *testing.T) {
		ts := ts.with(t)
		r, s := ts.consoleSignIn("admin", "admin-passphrase-1")
		if ts.must(r, 303).header.Get("Location") != "/console/" {
			t.Fatalf("Location %q", r.header.Get("Location"))
		}
		home := ts.must(ts.call("GET", "/console/", "", nil, s.cookies(), en), 200)
		if !strings.Contains(string(home.body), `<a href="/console/password"`) {
			t.Fatalf("the menu has no password link:\n%s", home.body)
		}
		ts.must(ts.consolePost(s, "/console/password", url.Values{"current_password": {"admin-passphrase-1"},
			"new_password": {"admin-passphrase-2"}, "new_password_again": {"admin-passphrase-2"}}, withHeader("Accept", "application/json")), 204)
		_, s = ts.consoleSignIn("admin", "admin-passphrase-2")
		audit := ts.must(ts.call("GET", "/console/audit.csv", "", nil, s.cookies()), 200)
		if strings.Count(string(audit.body), "console.password_change") != 2 {
			t.Errorf("the audit export lacks the two changes:\n%s", audit.body)
		}
	})

	t.Run("turns away an employee with a one-time password instead of offering the form", func(t *testing.T) {
		ts := ts.with(t)
		admin := ts.login("admin", "admin-passphrase-2", "admin-laptop").AccessToken
		_, otp := ts.createUser(admin, map[string]any{"employee_no": "E4301", "name": "Eve", "department": "Sales"})
		r, s := ts.consoleSignIn("E4301", otp)
		ts.must(r, 403)
		if s.session != "" || strings.Contains(string(r.body), `action="/console/password"`) {
			t.Errorf("an employee got a session (%q) or the password form:\n%s", s.session, r.body)
		}
	})
}
