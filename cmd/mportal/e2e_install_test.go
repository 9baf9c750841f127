package main

import (
	"bytes"
	"image/png"
	"net/url"
	"strings"
	"testing"
)

const (
	uaAndroidPhone = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
	uaIPhone       = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
	uaDesktop      = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)

// installLogin posts the install page's login form.
func (ts *testServer) installLogin(login, password, next string) response {
	ts.t.Helper()
	form := url.Values{"login": {login}, "password": {password}, "next": {next}}.Encode()
	return ts.noRedirects().call("POST", "/install/login", "", form, withHeader("Content-Type", "application/x-www-form-urlencoded"))
}

func TestInstallPageEndToEnd(t *testing.T) {
	ts, admin, _ := distributionServer(t)
	_, _ = ts.newEmployee(admin, "E3001", "Sales")

	t.Run("shows a login form without a session", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("GET", "/install/portal", "", nil, withHeader("User-Agent", uaAndroidPhone)), 401)
		if !strings.Contains(string(r.body), `action="/install/login"`) || !strings.Contains(string(r.body), `value="/install/portal"`) {
			t.Fatalf("no login form:\n%s", r.body)
		}
	})
	t.Run("re-renders the form after a wrong password", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.installLogin("E3001", "wrong-password", "/install/portal"), 401)
		if !strings.Contains(string(r.body), "Wrong employee number") {
			t.Fatalf("no message:\n%s", r.body)
		}
	})
	t.Run("refuses to redirect off the install page", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.installLogin("E3001", "E3001-passphrase", "/install/../v1/me"), 400)
		r := ts.noRedirects().call("POST", "/install/login", "", url.Values{"login": {"E3001"}, "password": {"E3001-passphrase"},
			"next": {"https://evil.example/install/portal"}}.Encode(), withHeader("Content-Type", "application/x-www-form-urlencoded"), offContract)
		ts.must(r, 400)
	})

	var cookie string
	t.Run("signs in, sets an HttpOnly cookie and returns to the page", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.installLogin("E3001", "E3001-passphrase", "/install/portal?channel=alpha"), 303)
		if loc := r.header.Get("Location"); loc != "/install/portal?channel=alpha" {
			t.Fatalf("Location %q", loc)
		}
		set := r.header.Get("Set-Cookie")
		attrs := strings.ToLower(set)
		if !strings.HasPrefix(set, "mportal_install=") || !strings.Contains(attrs, "; httponly") ||
			!strings.Contains(attrs, "; samesite=lax") || !strings.Contains(attrs, "; path=/") || strings.Contains(attrs, "secure") {
			t.Fatalf("Set-Cookie %q", set)
		}
		cookie = strings.SplitN(set, ";", 2)[0]
		r = ts.must(ts.noRedirects().call("POST", "/install/login", "", url.Values{"login": {"E3001"}, "password": {"E3001-passphrase"},
			"next": {"/install/portal"}}.Encode(), withHeader("Content-Type", "application/x-www-form-urlencoded"), withHeader("Accept", "application/json")), 204)
		if !strings.HasPrefix(r.header.Get("Set-Cookie"), "mportal_install=") {
			t.Fatalf("a JSON client got no cookie: %v", r.header)
		}
	})
	page := func(t *testing.T, ua, query string) string {
		ts := ts.with(t)
		r := ts.must(ts.call("GET", "/install/portal"+query, "", nil, withHeader("User-Agent", ua), withHeader("Cookie", cookie)), 200)
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
		return string(r.body)
	}
	t.Run("offers Android phones the stable APK, not alpha", func(t *testing.T) {
		html := page(t, uaAndroidPhone, "?channel=alpha")
		if !strings.Contains(html, `href="/v1/apps/portal/builds/android-100/download"`) || strings.Contains(html, "android-130") {
			t.Fatalf("page:\n%s", html)
		}
		ts := ts.with(t).noRedirects()
		ts.must(ts.call("GET", "/v1/apps/portal/builds/android-100/download", "", nil, withHeader("Cookie", cookie)), 302)
		ts.must(ts.call("GET", "/v1/apps/portal/builds/android-130/download", "", nil, withHeader("Cookie", cookie)), 404)
	})
	t.Run("offers iPhones the itms-services link", func(t *testing.T) {
		if html := page(t, uaIPhone, ""); !strings.Contains(html, `href="itms-services://?action=download-manifest&amp;url=`) {
			t.Fatalf("page:\n%s", html)
		}
	})
	t.Run("shows desktop visitors a QR code that decodes", func(t *testing.T) {
		html := page(t, uaDesktop, "")
		if !strings.Contains(html, `src="/install/portal/qr.png"`) {
			t.Fatalf("page:\n%s", html)
		}
		ts := ts.with(t)
		r := ts.must(ts.call("GET", "/install/portal/qr.png", "", nil, withHeader("Cookie", cookie)), 200)
		if _, err := png.Decode(bytes.NewReader(r.body)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("asks WeChat users to open the system browser", func(t *testing.T) {
		if html := page(t, uaAndroidPhone+" MicroMessenger/8.0.47", ""); !strings.Contains(html, `id="wechat"`) {
			t.Fatalf("page:\n%s", html)
		}
	})
	t.Run("accepts the cookie nowhere else", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("GET", "/v1/me", "", nil, withHeader("Cookie", cookie)), 401)
	})
	t.Run("sends accounts with a one-time password to the app first", func(t *testing.T) {
		ts := ts.with(t)
		_, otp := ts.createUser(admin, map[string]any{"employee_no": "E3002", "name": "New Hire"})
		r := ts.must(ts.installLogin("E3002", otp, "/install/portal"), 403)
		if !strings.Contains(string(r.body), "one-time password") || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("page:\n%s", r.body)
		}
	})
	t.Run("answers an unknown app with 404", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("GET", "/install/nope", "", nil, withHeader("Cookie", cookie)), 404)
	})
}
