package main

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/console"
)

// consoleSession is a browser's cookies for the console: the anti-forgery cookie and token, and
// once signed in the session cookies (access and refresh token).
type consoleSession struct {
	csrfCookie, token, session, refresh string
}

// cookies is the Cookie header the browser would send on /console.
func (s consoleSession) cookies() func(*http.Request) {
	c := s.csrfCookie
	for _, v := range []string{s.session, s.refresh} {
		if v != "" {
			c += "; " + v
		}
	}
	return withHeader("Cookie", c)
}

// update takes the session cookies that r sets, as the browser would; a cleared cookie
// becomes "name=".
func (s *consoleSession) update(r response) {
	for _, c := range r.header.Values("Set-Cookie") {
		pair := strings.SplitN(c, ";", 2)[0]
		switch {
		case strings.HasPrefix(pair, "mportal_console="):
			s.session = pair
		case strings.HasPrefix(pair, "mportal_console_refresh="):
			s.refresh = pair
		}
	}
}

var asForm = withHeader("Content-Type", "application/x-www-form-urlencoded")

// consoleForm opens the console without a session and returns the sign-in form's cookie and
// token.
func (ts *testServer) consoleForm() consoleSession {
	ts.t.Helper()
	r := ts.must(ts.call("GET", "/console/", "", nil), 401)
	m := csrfField.FindSubmatch(r.body)
	set := r.header.Get("Set-Cookie")
	if m == nil || !strings.HasPrefix(set, "mportal_console_csrf=") {
		ts.t.Fatalf("the console's sign-in form has no anti-forgery token (Set-Cookie %q):\n%s", set, r.body)
	}
	return consoleSession{csrfCookie: strings.SplitN(set, ";", 2)[0], token: string(m[1])}
}

// consoleSignIn posts the sign-in form and returns the response and the session.
func (ts *testServer) consoleSignIn(login, password string) (response, consoleSession) {
	ts.t.Helper()
	s := ts.consoleForm()
	form := url.Values{"login": {login}, "password": {password}, "csrf_token": {s.token}}.Encode()
	r := ts.noRedirects().call("POST", "/console/login", "", form, asForm, s.cookies())
	s.update(r)
	return r, s
}

// consolePost posts a console form with the session's token.
func (ts *testServer) consolePost(s consoleSession, path string, form url.Values, opts ...func(*http.Request)) response {
	ts.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", s.token)
	}
	return ts.noRedirects().call("POST", path, "", form.Encode(), append([]func(*http.Request){asForm, s.cookies()}, opts...)...)
}

// formFile is a file in a console form: its field, its name and type (application/octet-stream
// when empty) and its content.
type formFile struct {
	field, name, contentType string
	data                     []byte
}

// quoteEscaper escapes a name in a Content-Disposition header as mime/multipart does.
var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"")

// consoleMultipart posts a console form as multipart/form-data with the session's cookies: the
// session's token unless form names a csrf_token, form's fields, then file when it is not nil.
func (ts *testServer) consoleMultipart(s consoleSession, path string, form url.Values, file *formFile, opts ...func(*http.Request)) response {
	ts.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if _, ok := form["csrf_token"]; !ok {
		_ = w.WriteField("csrf_token", s.token)
	}
	for k, vs := range form {
		for _, v := range vs {
			_ = w.WriteField(k, v)
		}
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+quoteEscaper.Replace(file.field)+`"; filename="`+quoteEscaper.Replace(file.name)+`"`)
		h.Set("Content-Type", cmp.Or(file.contentType, "application/octet-stream"))
		part, err := w.CreatePart(h)
		if err != nil {
			ts.t.Fatal(err)
		}
		_, _ = part.Write(file.data)
	}
	if err := w.Close(); err != nil {
		ts.t.Fatal(err)
	}
	return ts.noRedirects().call("POST", path, "", buf.String(),
		append([]func(*http.Request){withHeader("Content-Type", w.FormDataContentType()), s.cookies()}, opts...)...)
}

// TestConsoleEndToEnd drives the console's pages over HTTP as a browser would: sign-in,
// roles, the anti-forgery token on every change, the CSP, and the audit log of a change made
// through the directory service.
func TestConsoleEndToEnd(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.adminToken()
	opsToken := ts.newOps(admin, "OPS1")
	employeeID, _ := ts.newEmployee(admin, "E4001", "Sales")

	t.Run("shows a visitor the sign-in form in their language, with a strict CSP and no script", func(t *testing.T) {
		ts := ts.with(t)
		for lang, want := range map[string]string{"en-US,en;q=0.9": "Sign in", "zh-CN,zh;q=0.9": "登录"} {
			r := ts.must(ts.call("GET", "/console/", "", nil, withHeader("Accept-Language", lang)), 401)
			if got := r.header.Get("Content-Security-Policy"); got != console.CSP {
				t.Errorf("CSP %q, want %q", got, console.CSP)
			}
			body := string(r.body)
			if !strings.Contains(body, want) || strings.Contains(body, "<script") || strings.Contains(body, "style=") {
				t.Errorf("%s: the form lacks %q or has a script or an inline style:\n%s", lang, want, body)
			}
		}
		css := ts.must(ts.call("GET", "/console/static/console.css", "", nil), 200)
		if !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
			t.Errorf("stylesheet Content-Type %q", css.header.Get("Content-Type"))
		}
		ts.must(ts.call("GET", "/console/static/missing.css", "", nil), 404)
	})

	t.Run("signs an admin in with an HttpOnly, SameSite=Strict cookie on /console only", func(t *testing.T) {
		ts := ts.with(t)
		r, s := ts.consoleSignIn("admin", "admin-passphrase-1")
		ts.must(r, 303)
		var set string
		for _, c := range r.header.Values("Set-Cookie") {
			if strings.HasPrefix(c, "mportal_console=") {
				set = c
			}
		}
		for _, want := range []string{"httponly", "samesite=strict", "path=/console;", "max-age="} {
			if !strings.Contains(strings.ToLower(set), want) {
				t.Errorf("console cookie %q lacks %s", set, want)
			}
		}
		if r.header.Get("Location") != "/console/" {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		page := ts.must(ts.call("GET", "/console/", "", nil, s.cookies(), withHeader("Accept-Language", "en")), 200)
		for _, want := range []string{"Dashboard", `href="/console/users"`, `href="/console/audit"`} {
			if !strings.Contains(string(page.body), want) {
				t.Errorf("the dashboard lacks %q:\n%s", want, page.body)
			}
		}
		// The API does not take the console's cookie as a credential.
		ts.must(ts.call("GET", "/v1/me", "", nil, s.cookies()), 401)
	})

	t.Run("signs nobody in from a form without its token or from another site", func(t *testing.T) {
		ts := ts.with(t)
		s := ts.consoleForm()
		refused := func(r response) {
			t.Helper()
			ts.must(r, 403)
			if strings.Contains(strings.Join(r.header.Values("Set-Cookie"), "\n"), "mportal_console=") {
				t.Errorf("a refused sign-in set the session cookie")
			}
		}
		form := url.Values{"login": {"admin"}, "password": {"admin-passphrase-1"}}
		refused(ts.noRedirects().call("POST", "/console/login", "", form.Encode(), asForm, s.cookies(), offContract))
		form.Set("csrf_token", s.token)
		refused(ts.noRedirects().call("POST", "/console/login", "", form.Encode(), asForm, s.cookies(),
			withHeader("Origin", "https://evil.example")))
		refused(ts.noRedirects().call("POST", "/console/login", "", form.Encode(), asForm, s.cookies(),
			withHeader("Sec-Fetch-Site", "cross-site")))
	})

	t.Run("keeps employees out of the console", func(t *testing.T) {
		ts := ts.with(t)
		r, s := ts.consoleSignIn("E4001", "E4001-passphrase")
		ts.must(r, 403)
		if s.session != "" {
			t.Fatal("an employee got a console session")
		}
		if !strings.Contains(string(r.body), "ops and admins") && !strings.Contains(string(r.body), "运维和管理员") {
			t.Errorf("the employee's page does not say why:\n%s", r.body)
		}
		// Their session has ended: no ops menu, no sign-out button.
		if strings.Contains(string(r.body), "<nav") || strings.Contains(string(r.body), `action="/console/logout"`) {
			t.Errorf("the refused employee sees the menu or a sign-out button:\n%s", r.body)
		}
		// Even with an employee's own access token in the cookie, the console stays shut.
		tk := ts.login("E4001", "E4001-passphrase", "E4001-tablet")
		s.session = "mportal_console=" + tk.AccessToken
		ts.must(ts.call("GET", "/console/", "", nil, s.cookies()), 403)
	})

	t.Run("offers only sign-out to a user who loses the ops role during the session", func(t *testing.T) {
		ts := ts.with(t)
		id, otp := ts.createUser(admin, map[string]any{"employee_no": "OPS2", "name": "Otto", "department": "Comms",
			"roles": []string{"employee", "ops"}})
		ts.signIn("OPS2", otp, "OPS2-passphrase", "OPS2-laptop")
		r, s := ts.consoleSignIn("OPS2", "OPS2-passphrase")
		ts.must(r, 303)
		ts.must(ts.call("PUT", "/v1/admin/users/"+id+"/roles", admin, map[string]any{"roles": []string{"employee"}}), 200)
		var page response
		eventually(t, 10*time.Second, "the role change noticed", func() bool {
			page = ts.call("GET", "/console/", "", nil, s.cookies())
			return page.status == 403
		})
		if strings.Contains(string(page.body), "<nav") || !strings.Contains(string(page.body), `action="/console/logout"`) {
			t.Errorf("the demoted user's page shows the menu or no sign-out button:\n%s", page.body)
		}
		out := ts.must(ts.consolePost(s, "/console/logout", nil), 303)
		if !strings.Contains(strings.Join(out.header.Values("Set-Cookie"), "\n"), "mportal_console=;") {
			t.Errorf("sign-out did not clear the cookie: %q", out.header.Values("Set-Cookie"))
		}
		ts.must(ts.call("GET", "/console/", "", nil, s.cookies()), 401)
	})

	t.Run("lets ops in, but not to the users or audit screens", func(t *testing.T) {
		ts := ts.with(t)
		r, s := ts.consoleSignIn("OPS1", "OPS1-passphrase")
		ts.must(r, 303)
		page := ts.must(ts.call("GET", "/console/", "", nil, s.cookies()), 200)
		if strings.Contains(string(page.body), `href="/console/users"`) {
			t.Error("ops see the users screen in the menu")
		}
		ts.must(ts.call("GET", "/console/users", "", nil, s.cookies()), 403)
		ts.must(ts.call("GET", "/console/audit", "", nil, s.cookies()), 403)
		ts.must(ts.call("GET", "/console/audit.csv", "", nil, s.cookies()), 403)
		ts.must(ts.consolePost(s, "/console/users/"+employeeID+"/status", url.Values{"status": {"disabled"}}), 403)
		ts.must(ts.call("GET", "/v1/admin/users/"+employeeID, admin, nil), 200)
	})

	t.Run("disables a user only with the form's token, and audits it with before and after", func(t *testing.T) {
		ts := ts.with(t)
		_, s := ts.consoleSignIn("admin", "admin-passphrase-1")
		list := ts.must(ts.call("GET", "/console/users?q=E4001", "", nil, s.cookies()), 200)
		if !strings.Contains(string(list.body), "E4001") {
			t.Fatalf("the users screen does not find E4001:\n%s", list.body)
		}
		path := "/console/users/" + employeeID + "/status"
		forged := ts.consolePost(s, path, url.Values{"status": {"disabled"}, "csrf_token": {strings.Repeat("x", 43)}})
		if ts.must(forged, 403).problemCode() != "forbidden" {
			t.Errorf("a forged form answered %s", forged.body)
		}
		ts.must(ts.consolePost(s, path, url.Values{"status": {"disabled"}}, withHeader("Origin", "https://evil.example")), 403)
		ts.must(ts.consolePost(s, path, url.Values{"status": {"gone"}}, offContract), 400)
		if st := userStatus(ts, admin, employeeID); st != "active" {
			t.Fatalf("a refused form changed the user: status %q", st)
		}
		r := ts.must(ts.consolePost(s, path, url.Values{"status": {"disabled"}}), 303)
		if r.header.Get("Location") != "/console/users" {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		if st := userStatus(ts, admin, employeeID); st != "disabled" {
			t.Fatalf("the API says status %q after disabling", st)
		}

		page := ts.must(ts.call("GET", "/console/audit", "", nil, s.cookies()), 200)
		if !strings.Contains(string(page.body), "user.status") || !strings.Contains(string(page.body), "console.sign_in") {
			t.Errorf("the audit screen lacks the change or the sign-in:\n%s", page.body)
		}
		export := ts.must(ts.call("GET", "/console/audit.csv", "", nil, s.cookies()), 200)
		rows, err := csv.NewReader(strings.NewReader(string(export.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, row := range rows[1:] {
			if row[3] == "user.status" && row[4] == employeeID {
				found = true
				if !strings.Contains(row[5], `"status":"active"`) || !strings.Contains(row[6], `"status":"disabled"`) || row[1] == "" {
					t.Errorf("audit row %q lacks who or the status before and after", row)
				}
			}
		}
		if !found || strings.Join(rows[0], ",") != "at,actor_id,via,action,target,before,after" {
			t.Errorf("the export lacks the change:\n%s", export.body)
		}
	})

	t.Run("answers scripts that ask for JSON with 204 instead of a redirect", func(t *testing.T) {
		ts := ts.with(t)
		s := ts.consoleForm()
		form := url.Values{"login": {"admin"}, "password": {"admin-passphrase-1"}, "csrf_token": {s.token}}
		r := ts.must(ts.noRedirects().call("POST", "/console/login", "", form.Encode(), asForm, s.cookies(),
			withHeader("Accept", "application/json")), 204)
		s.update(r)
		json := withHeader("Accept", "application/json")
		ts.must(ts.consolePost(s, "/console/users/"+employeeID+"/status", url.Values{"status": {"active"}}, json), 204)
		if st := userStatus(ts, admin, employeeID); st != "active" {
			t.Errorf("status %q after enabling", st)
		}
		ts.must(ts.consolePost(s, "/console/logout", nil, json), 204)
	})

	t.Run("raises a release published at 20% through the release service, audited", func(t *testing.T) {
		ts := ts.with(t)
		ts.createApp(opsToken, "portal")
		_, tr := ts.publishAPK(opsToken, "portal", 100, "stable", 20)
		rel := tr.Releases[0].ID
		_, s := ts.consoleSignIn("OPS1", "OPS1-passphrase")
		page := ts.must(ts.call("GET", "/console/apps", "", nil, s.cookies(), withHeader("Accept-Language", "en")), 200)
		if !strings.Contains(string(page.body), `id="release-`+rel+`"`) || !strings.Contains(string(page.body), "/install/portal") {
			t.Fatalf("the apps screen lacks the release or the install link:\n%s", page.body)
		}
		path := "/console/apps/portal/tracks/android/stable/releases/" + rel
		ts.must(ts.consolePost(s, path, url.Values{"action": {"raise"}, "percent": {"50"}, "csrf_token": {"forged"}}), 403)
		ts.must(ts.consolePost(s, path, url.Values{"action": {"raise"}, "percent": {"lots"}}), 400)
		ts.must(ts.consolePost(s, path, url.Values{"action": {"raise"}, "percent": {"50"}}), 303)
		var tracks struct{ Items []e2eTrack }
		ts.must(ts.call("GET", "/v1/ops/apps/portal/tracks", opsToken, nil), 200).json(t, &tracks)
		if len(tracks.Items) != 1 || tracks.Items[0].Releases[0].Percent != 50 {
			t.Fatalf("the API's tracks after the raise: %+v", tracks.Items)
		}
		ts.must(ts.consolePost(s, path, url.Values{"action": {"halt"}}, withHeader("Accept", "application/json")), 204)
		_, as := ts.consoleSignIn("admin", "admin-passphrase-1")
		audit := ts.must(ts.call("GET", "/console/audit.csv", "", nil, as.cookies()), 200)
		for _, want := range []string{"release.raise", "release.halt", `""percent"":20`, `""percent"":50`} {
			if !strings.Contains(string(audit.body), want) {
				t.Errorf("the audit export lacks %s:\n%s", want, audit.body)
			}
		}
	})

	t.Run("ends the session on sign-out", func(t *testing.T) {
		ts := ts.with(t)
		_, s := ts.consoleSignIn("admin", "admin-passphrase-1")
		ts.must(ts.consolePost(s, "/console/logout", url.Values{"csrf_token": {"forged"}}), 403)
		ts.must(ts.consolePost(s, "/console/logout", nil), 303)
		r := ts.must(ts.call("GET", "/console/", "", nil, s.cookies()), 401)
		if !strings.Contains(string(r.body), `action="/console/login"`) {
			t.Errorf("after sign-out the console shows:\n%s", r.body)
		}
	})

	t.Run("throttles wrong passwords as the API does", func(t *testing.T) {
		ts := ts.with(t)
		var last response
		for i := 0; i < 15 && last.status != 429; i++ {
			last, _ = ts.consoleSignIn("OPS1", "wrong-password")
		}
		ts.must(last, 429)
		if last.header.Get("Retry-After") == "" {
			t.Error("no Retry-After on a throttled sign-in")
		}
	})
}

func userStatus(ts *testServer, admin, id string) string {
	ts.t.Helper()
	var u struct{ Status string }
	ts.must(ts.call("GET", "/v1/admin/users/"+id, admin, nil), 200).json(ts.t, &u)
	return u.Status
}
