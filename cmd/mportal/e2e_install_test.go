package main

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	uaAndroidPhone = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
	uaIPhone       = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
	uaDesktop      = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// installForm opens the install page without a session, as a browser does before it signs
// in, and returns the anti-forgery cookie ("name=value") and the token of the login form.
func (ts *testServer) installForm() (cookie, token string) {
	ts.t.Helper()
	r := ts.must(ts.call("GET", "/install/portal", "", nil), 401)
	m := csrfField.FindSubmatch(r.body)
	set := r.header.Get("Set-Cookie")
	if m == nil || !strings.HasPrefix(set, "mportal_install_csrf=") {
		ts.t.Fatalf("the login form has no anti-forgery token (Set-Cookie %q):\n%s", set, r.body)
	}
	return strings.SplitN(set, ";", 2)[0], string(m[1])
}

// installLogin posts the install page's login form, with the form's anti-forgery token.
func (ts *testServer) installLogin(login, password, next string, opts ...func(*http.Request)) response {
	ts.t.Helper()
	cookie, token := ts.installForm()
	form := url.Values{"login": {login}, "password": {password}, "next": {next}, "csrf_token": {token}}.Encode()
	opts = append([]func(*http.Request){withHeader("Content-Type", "application/x-www-form-urlencoded"), withHeader("Cookie", cookie)}, opts...)
	return ts.noRedirects().call("POST", "/install/login", "", form, opts...)
}

// TestInstallPageEndToEnd drives the install page as a browser does. The subtests share the
// server and its builds, nothing else: each signs in itself, so any of them runs alone.
func TestInstallPageEndToEnd(t *testing.T) {
	ts, admin, _ := distributionServer(t)
	_, _ = ts.newEmployee(admin, "E3001", "Sales")

	// signIn signs E3001 in on the install page and returns the session cookie ("name=value").
	signIn := func(t *testing.T) string {
		t.Helper()
		ts := ts.with(t)
		r := ts.must(ts.installLogin("E3001", "E3001-passphrase", "/install/portal"), 303)
		return strings.SplitN(r.header.Get("Set-Cookie"), ";", 2)[0]
	}
	page := func(t *testing.T, cookie, ua, query string, opts ...func(*http.Request)) string {
		t.Helper()
		ts := ts.with(t)
		opts = append([]func(*http.Request){withHeader("User-Agent", ua), withHeader("Cookie", cookie)}, opts...)
		r := ts.must(ts.call("GET", "/install/portal"+query, "", nil, opts...), 200)
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q", csp)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("headers %v: want nosniff and no-referrer", r.header)
		}
		return string(r.body)
	}

	t.Run("shows a login form without a session", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("GET", "/install/portal", "", nil, withHeader("User-Agent", uaAndroidPhone)), 401)
		if !strings.Contains(string(r.body), `action="/install/login"`) || !strings.Contains(string(r.body), `value="/install/portal"`) {
			t.Fatalf("no login form:\n%s", r.body)
		}
		if !strings.Contains(string(r.body), "<title>App portal · 安装</title>") {
			t.Fatalf("the form is not titled with the app's name:\n%s", r.body)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("headers %v: want nosniff and no-referrer", r.header)
		}
	})
	t.Run("re-renders the form after a wrong password", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.installLogin("E3001", "wrong-password", "/install/portal", withHeader("Accept-Language", "en-US,en;q=0.9")), 401)
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
	t.Run("signs nobody in from another site (login CSRF)", func(t *testing.T) {
		ts := ts.with(t)
		form := url.Values{"login": {"E3001"}, "password": {"E3001-passphrase"}, "next": {"/install/portal"}}
		asForm := withHeader("Content-Type", "application/x-www-form-urlencoded")
		refused := func(r response) {
			t.Helper()
			ts.must(r, 403)
			if strings.Contains(r.header.Get("Set-Cookie"), "mportal_install=") || !strings.Contains(string(r.body), "The sign-in form expired") {
				t.Fatalf("a forged post was not refused: %v\n%s", r.header, r.body)
			}
		}
		// A cross-site form has no token: the attacker can neither read nor set the cookie.
		refused(ts.noRedirects().call("POST", "/install/login", "", form.Encode(), asForm, withHeader("Accept-Language", "en"), offContract))
		cookie, token := ts.installForm()
		form.Set("csrf_token", token)
		refused(ts.noRedirects().call("POST", "/install/login", "", form.Encode(), asForm, withHeader("Accept-Language", "en")))
		refused(ts.noRedirects().call("POST", "/install/login", "", form.Encode(), asForm, withHeader("Accept-Language", "en"),
			withHeader("Cookie", "mportal_install_csrf="+strings.Repeat("x", 43))))
		// Even with a valid pair (a page that somehow got both), another site's post is refused.
		refused(ts.noRedirects().call("POST", "/install/login", "", form.Encode(), asForm, withHeader("Accept-Language", "en"),
			withHeader("Cookie", cookie), withHeader("Origin", "https://evil.example")))
		refused(ts.noRedirects().call("POST", "/install/login", "", form.Encode(), asForm, withHeader("Accept-Language", "en"),
			withHeader("Cookie", cookie), withHeader("Sec-Fetch-Site", "cross-site")))
		// Under the page's no-referrer policy a browser sends "Origin: null"; only Sec-Fetch-Site
		// can then vouch for the post.
		refused(ts.noRedirects().call("POST", "/install/login", "", form.Encode(), asForm, withHeader("Accept-Language", "en"),
			withHeader("Cookie", cookie), withHeader("Origin", "null")))
		ts.must(ts.noRedirects().call("POST", "/install/login", "", form.Encode(), asForm,
			withHeader("Cookie", cookie), withHeader("Origin", "null"), withHeader("Sec-Fetch-Site", "same-origin")), 303)
		// The same pair from this site signs in.
		ts.must(ts.noRedirects().call("POST", "/install/login", "", form.Encode(), asForm,
			withHeader("Cookie", cookie), withHeader("Origin", ts.base), withHeader("Sec-Fetch-Site", "same-origin")), 303)
	})

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
		r = ts.must(ts.installLogin("E3001", "E3001-passphrase", "/install/portal", withHeader("Accept", "application/json")), 204)
		if !strings.HasPrefix(r.header.Get("Set-Cookie"), "mportal_install=") {
			t.Fatalf("a JSON client got no cookie: %v", r.header)
		}
	})
	t.Run("speaks the browser's language, in its own words and the notes", func(t *testing.T) {
		cookie := signIn(t)
		zh := page(t, cookie, uaAndroidPhone, "", withHeader("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8"))
		en := page(t, cookie, uaAndroidPhone, "", withHeader("Accept-Language", "en-US,en;q=0.9"))
		if !strings.Contains(zh, "下载 APK") || !strings.Contains(zh, "更新说明") || strings.Contains(zh, "Download APK") {
			t.Errorf("zh-CN page:\n%s", zh)
		}
		if !strings.Contains(en, "Download APK") || !strings.Contains(en, "<strong>notes</strong>") || strings.Contains(en, "下载") {
			t.Errorf("en page:\n%s", en)
		}
	})
	t.Run("shows the icon parsed from the build", func(t *testing.T) {
		cookie := signIn(t)
		if html := page(t, cookie, uaAndroidPhone, "?channel=alpha"); !strings.Contains(html, `<img id="icon" alt="应用图标" src="/install/portal/icon.png?channel=alpha">`) {
			t.Fatalf("page:\n%s", html)
		}
		ts := ts.with(t)
		r := ts.must(ts.call("GET", "/install/portal/icon.png?channel=alpha", "", nil, withHeader("Cookie", cookie)), 200)
		if _, err := png.Decode(bytes.NewReader(r.body)); err != nil || r.header.Get("Content-Type") != "image/png" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("icon (%s): %v", r.header.Get("Content-Type"), err)
		}
		ts.must(ts.call("GET", "/install/portal/icon.png", "", nil), 401)
		ts.must(ts.call("GET", "/install/nope/icon.png", "", nil, withHeader("Cookie", cookie)), 404)
	})
	t.Run("offers Android phones the stable APK, not alpha", func(t *testing.T) {
		cookie := signIn(t)
		html := page(t, cookie, uaAndroidPhone, "?channel=alpha")
		if !strings.Contains(html, `href="/v1/apps/portal/builds/android-100/download"`) || strings.Contains(html, "android-130") {
			t.Fatalf("page:\n%s", html)
		}
		ts := ts.with(t).noRedirects()
		ts.must(ts.call("GET", "/v1/apps/portal/builds/android-100/download", "", nil, withHeader("Cookie", cookie)), 302)
		ts.must(ts.call("GET", "/v1/apps/portal/builds/android-130/download", "", nil, withHeader("Cookie", cookie)), 404)
	})
	t.Run("offers iPhones the itms-services link", func(t *testing.T) {
		cookie := signIn(t)
		if html := page(t, cookie, uaIPhone, ""); !strings.Contains(html, `href="itms-services://?action=download-manifest&amp;url=`) {
			t.Fatalf("page:\n%s", html)
		}
	})
	t.Run("shows desktop visitors a QR code that decodes", func(t *testing.T) {
		cookie := signIn(t)
		html := page(t, cookie, uaDesktop, "")
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
		cookie := signIn(t)
		if html := page(t, cookie, uaAndroidPhone+" MicroMessenger/8.0.47", ""); !strings.Contains(html, `id="wechat"`) {
			t.Fatalf("page:\n%s", html)
		}
	})
	t.Run("accepts the cookie nowhere else", func(t *testing.T) {
		cookie := signIn(t)
		ts := ts.with(t)
		ts.must(ts.call("GET", "/v1/me", "", nil, withHeader("Cookie", cookie)), 401)
	})
	t.Run("sends accounts with a one-time password to the app first", func(t *testing.T) {
		ts := ts.with(t)
		_, otp := ts.createUser(admin, map[string]any{"employee_no": "E3002", "name": "New Hire"})
		r := ts.must(ts.installLogin("E3002", otp, "/install/portal"), 403)
		if !strings.Contains(string(r.body), "一次性密码") || strings.Contains(r.header.Get("Set-Cookie"), "mportal_install=") {
			t.Fatalf("page:\n%s", r.body)
		}
	})
	t.Run("throttles wrong passwords with the form, 429 and the mapping's Retry-After", func(t *testing.T) {
		ts := ts.with(t)
		_, _ = ts.newEmployee(admin, "E3003", "Sales")
		var last response
		for range 10 {
			last = ts.installLogin("E3003", "wrong-password", "/install/portal", withHeader("Accept-Language", "en"))
			if last.status == 429 {
				break
			}
		}
		ts.must(last, 429)
		wait, err := strconv.Atoi(last.header.Get("Retry-After"))
		if err != nil || wait < 1 || !strings.Contains(string(last.body), fmt.Sprintf("Try again in %d seconds.", wait)) ||
			!strings.Contains(string(last.body), `action="/install/login"`) {
			t.Fatalf("Retry-After %q, page:\n%s", last.header.Get("Retry-After"), last.body)
		}
	})
	t.Run("answers an unknown app with 404", func(t *testing.T) {
		cookie := signIn(t)
		ts := ts.with(t)
		ts.must(ts.call("GET", "/install/nope", "", nil, withHeader("Cookie", cookie)), 404)
	})
}
