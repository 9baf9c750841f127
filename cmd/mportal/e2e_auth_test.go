package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mportal/mportal/internal/testenv"
)

// TestWalkThrough is the README's walk-through: the seeded admin signs in with the one-time
// password, changes it, registers a device, refreshes, and manages users.
func TestWalkThrough(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	otp := ts.adminPassword()

	first := ts.login("admin", otp, "laptop-1")
	t.Run("a one-time password only opens the password change", func(t *testing.T) {
		ts := ts.with(t)
		if !first.PasswordChangeRequired {
			t.Fatal("password_change_required is false")
		}
		ts.must(ts.call("GET", "/v1/me", first.AccessToken, nil), 200)
		r := ts.must(ts.call("GET", "/v1/devices", first.AccessToken, nil), 403)
		if r.problemCode() != "password_change_required" {
			t.Fatalf("code %q", r.problemCode())
		}
	})
	t.Run("a wrong current password is a 400 on current_password", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("POST", "/v1/me/password", first.AccessToken, map[string]string{
			"current_password": "not-the-password", "new_password": "admin-passphrase-1",
		}), 400)
		if !strings.Contains(string(r.body), "current_password") {
			t.Fatalf("problem does not name the field: %s", r.body)
		}
	})
	admin := ts.signIn("admin", otp, "admin-passphrase-1", "laptop-1")
	if admin.PasswordChangeRequired {
		t.Fatal("still must change the password after changing it")
	}
	t.Run("the one-time password no longer works", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("POST", "/v1/auth/login", "", map[string]string{
			"login": "admin", "password": otp, "device_id": "laptop-1",
		}), 401)
	})

	t.Run("a device checks in and is listed without its push token", func(t *testing.T) {
		ts := ts.with(t)
		dev := device("android")
		r := ts.must(ts.call("PUT", "/v1/devices/phone-1", admin.AccessToken, dev), 200)
		var got map[string]any
		r.json(t, &got)
		if got["device_id"] != "phone-1" || got["has_push_token"] != true || got["last_seen_at"] == nil {
			t.Fatalf("device %v", got)
		}
		if strings.Contains(string(r.body), dev["push_token"].(string)) {
			t.Fatal("the push token was echoed")
		}
		dev["build_number"] = 231
		ts.must(ts.call("PUT", "/v1/devices/phone-1", admin.AccessToken, dev), 200)
		var list struct{ Items []map[string]any }
		ts.must(ts.call("GET", "/v1/devices", admin.AccessToken, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0]["build_number"] != float64(231) {
			t.Fatalf("devices %v", list.Items)
		}
		ts.must(ts.call("DELETE", "/v1/devices/phone-1", admin.AccessToken, nil), 204)
		ts.must(ts.call("DELETE", "/v1/devices/phone-1", admin.AccessToken, nil), 404)
	})

	t.Run("the profile's locale and timezone can be changed", func(t *testing.T) {
		ts := ts.with(t)
		var me map[string]any
		ts.must(ts.call("PATCH", "/v1/me", admin.AccessToken, map[string]string{"locale": "en", "timezone": "Europe/Berlin"}), 200).json(t, &me)
		if me["locale"] != "en" || me["timezone"] != "Europe/Berlin" {
			t.Fatalf("me %v", me)
		}
		r := ts.must(ts.call("PATCH", "/v1/me", admin.AccessToken, map[string]string{"timezone": "Mars/Olympus"}), 400)
		if r.problemCode() != "invalid" {
			t.Fatalf("code %q", r.problemCode())
		}
	})

	t.Run("refresh rotates, a retry after a lost answer works once, and replaying revokes the session", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("POST", "/v1/auth/refresh", "", map[string]string{
			"refresh_token": admin.RefreshToken, "device_id": "laptop-1",
		}), 200)
		var lost tokens
		r.json(t, &lost)
		if lost.RefreshToken == admin.RefreshToken || lost.SessionID != admin.SessionID {
			t.Fatal("refresh did not rotate within the same session")
		}
		// The answer was lost: the client retries with the token it still has, and gets a pair.
		r = ts.must(ts.call("POST", "/v1/auth/refresh", "", map[string]string{
			"refresh_token": admin.RefreshToken, "device_id": "laptop-1",
		}), 200)
		var next tokens
		r.json(t, &next)
		ts.must(ts.call("GET", "/v1/me", next.AccessToken, nil), 200)
		// The lost pair's token turning up: a stolen copy is in use, so the whole session dies.
		ts.must(ts.call("POST", "/v1/auth/refresh", "", map[string]string{
			"refresh_token": lost.RefreshToken, "device_id": "laptop-1",
		}), 401)
		ts.must(ts.call("POST", "/v1/auth/refresh", "", map[string]string{
			"refresh_token": next.RefreshToken, "device_id": "laptop-1",
		}), 401)
		eventually(t, 10*time.Second, "the revoked session's access token is refused", func() bool {
			return ts.call("GET", "/v1/me", next.AccessToken, nil).status == 401
		})
	})

	admin = ts.login("admin", "admin-passphrase-1", "laptop-1")
	t.Run("sessions are listed and can be revoked one by one", func(t *testing.T) {
		ts := ts.with(t)
		other := ts.login("admin", "admin-passphrase-1", "tablet-1")
		var list struct {
			Items []struct {
				ID       string `json:"id"`
				DeviceID string `json:"device_id"`
				Current  bool   `json:"current"`
			}
		}
		ts.must(ts.call("GET", "/v1/auth/sessions", admin.AccessToken, nil), 200).json(t, &list)
		current := 0
		found := false
		for _, s := range list.Items {
			if s.Current {
				current++
			}
			found = found || s.ID == other.SessionID && s.DeviceID == "tablet-1"
		}
		if current != 1 || !found {
			t.Fatalf("sessions %+v", list.Items)
		}
		ts.must(ts.call("DELETE", "/v1/auth/sessions/"+other.SessionID, admin.AccessToken, nil), 204)
		ts.must(ts.call("POST", "/v1/auth/refresh", "", map[string]string{
			"refresh_token": other.RefreshToken, "device_id": "tablet-1",
		}), 401)
	})

	t.Run("logout ends the session", func(t *testing.T) {
		ts := ts.with(t)
		s := ts.login("admin", "admin-passphrase-1", "laptop-2")
		ts.must(ts.call("POST", "/v1/auth/logout", s.AccessToken, nil), 204)
		ts.must(ts.call("POST", "/v1/auth/refresh", "", map[string]string{
			"refresh_token": s.RefreshToken, "device_id": "laptop-2",
		}), 401)
		eventually(t, 10*time.Second, "a logged-out access token is refused", func() bool {
			return ts.call("GET", "/v1/me", s.AccessToken, nil).status == 401
		})
	})

	t.Run("access tokens verify against the published JWKS", func(t *testing.T) {
		ts := ts.with(t)
		var set struct {
			Keys []struct{ Kid, X, Alg, Kty, Crv string }
		}
		r := ts.must(ts.call("GET", "/v1/.well-known/jwks.json", "", nil), 200)
		r.json(t, &set)
		keys := map[string]ed25519.PublicKey{}
		for _, k := range set.Keys {
			x, err := base64.RawURLEncoding.DecodeString(k.X)
			if err != nil || k.Alg != "EdDSA" || k.Kty != "OKP" || k.Crv != "Ed25519" {
				t.Fatalf("bad JWK %+v", k)
			}
			keys[k.Kid] = ed25519.PublicKey(x)
		}
		tok, err := jwt.Parse(admin.AccessToken, func(tok *jwt.Token) (any, error) {
			return keys[tok.Header["kid"].(string)], nil
		}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer("mportal"), jwt.WithAudience("mportal-app"))
		if err != nil || !tok.Valid {
			t.Fatalf("token does not verify with the JWKS: %v", err)
		}
		claims := tok.Claims.(jwt.MapClaims)
		exp, _ := claims.GetExpirationTime()
		if claims["sub"] != admin.User.ID || claims["sid"] != admin.SessionID || time.Until(exp.Time) > 15*time.Minute {
			t.Fatalf("claims %v", claims)
		}
	})

	t.Run("nothing secret reaches the logs", func(t *testing.T) {
		ts := ts.with(t)
		logs := ts.logs.String()
		for name, secret := range map[string]string{
			"one-time password": otp, "password": "admin-passphrase-1",
			"access token": admin.AccessToken, "refresh token": admin.RefreshToken,
			"MinIO secret": "mportal-test-secret",
		} {
			if strings.Contains(logs, secret) {
				t.Errorf("the logs contain the %s", name)
			}
		}
		if !strings.Contains(logs, `"route":"/v1/auth/login"`) {
			t.Error("no access log line for login")
		}
	})
}

// TestLoginFailures: one generic message whatever was wrong, and throttling with Retry-After.
func TestLoginFailures(t *testing.T) {
	// A clock that stands still: a lock-out (1 s at first) must not run out in real time between
	// the requests that check it, which on a loaded machine it could.
	frozen := testenv.NewClock(time.Now())
	ts := startServer(t, testEnv(t, nil), func(m *Main) { m.Clock = frozen.Now })
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1")
	id, otp := ts.createUser(admin.AccessToken, map[string]any{"employee_no": "E2001", "name": "Wang Fang"})
	_ = ts.signIn("E2001", otp, "wang-passphrase-1", "phone-1")
	ts.must(ts.call("PATCH", "/v1/admin/users/"+id, admin.AccessToken, map[string]string{"status": "disabled"}), 200)

	detail := func(r response) string {
		var p struct{ Detail string }
		_ = json.Unmarshal(r.body, &p)
		return p.Detail
	}
	attempt := func(login, password string) response {
		return ts.call("POST", "/v1/auth/login", "", map[string]string{"login": login, "password": password, "device_id": "d1"})
	}
	unknown := ts.must(attempt("nobody", "whatever-pass"), 401)
	wrong := ts.must(attempt("admin", "wrong-passphrase"), 401)
	disabled := ts.must(attempt("E2001", "wang-passphrase-1"), 401)
	if detail(unknown) != detail(wrong) || detail(wrong) != detail(disabled) {
		t.Fatalf("failure messages differ: %q / %q / %q", detail(unknown), detail(wrong), detail(disabled))
	}

	t.Run("repeated failures are throttled with Retry-After", func(t *testing.T) {
		ts := ts.with(t)
		var last response
		for i := 0; i < 8; i++ {
			last = attempt("admin", "wrong-passphrase")
			if last.status == 429 {
				break
			}
		}
		if last.status != 429 || last.problemCode() != "rate_limited" {
			t.Fatalf("never throttled: %d %s", last.status, last.body)
		}
		if s, err := strconv.Atoi(last.header.Get("Retry-After")); err != nil || s < 1 {
			t.Fatalf("Retry-After %q", last.header.Get("Retry-After"))
		}
		// Even the right password waits out the back-off.
		ts.must(attempt("admin", "admin-passphrase-1"), 429)
	})

	// A burst of concurrent guesses gets the free failures (5), not one each: attempts under way
	// count. Before, all 24 passed the throttle before the first had failed.
	t.Run("concurrent guesses get only the free failures", func(t *testing.T) {
		statuses := make([]int, 24)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = attempt("E2001", fmt.Sprint("guess-number-", i)).status
			}()
		}
		wg.Wait()
		counts := map[int]int{}
		for _, s := range statuses {
			counts[s]++
		}
		if counts[401] < 1 || counts[401] > 5 || counts[401]+counts[429] != len(statuses) {
			t.Fatalf("statuses %v: want at most 5 checked guesses (401), the rest 429", counts)
		}
	})
}

// TestLoginThrottleBehindALoadBalancer: with the balancer's address in MPORTAL_TRUSTED_PROXIES,
// the login throttle counts each client by the address the balancer saw (X-Forwarded-For), so
// one client's wrong passwords lock that client only. Without it every request came from the
// balancer: a few dozen wrong passwords for made-up logins locked everybody's logins.
func TestLoginThrottleBehindALoadBalancer(t *testing.T) {
	frozen := testenv.NewClock(time.Now()) // the lock-out must not run out between requests
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_TRUSTED_PROXIES": "127.0.0.0/8"}), func(m *Main) { m.Clock = frozen.Now })
	_ = ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1")
	from := func(ip string) func(*http.Request) { return withHeader("X-Forwarded-For", ip) }
	attempt := func(login, password, ip string) response {
		return ts.call("POST", "/v1/auth/login", "", map[string]string{"login": login, "password": password, "device_id": "d1"}, from(ip))
	}
	var last response
	for i := range 40 { // made-up logins: only the address's budget (20 failures) runs out
		if last = attempt(fmt.Sprint("nobody-", i), "whatever-pass", "198.51.100.1"); last.status == 429 {
			break
		}
	}
	if last.status != 429 {
		t.Fatalf("the attacking client was never throttled: %d %s", last.status, last.body)
	}
	// The client's own forged header does not get it out: the balancer's entry is the one read.
	ts.must(ts.call("POST", "/v1/auth/login", "", map[string]string{"login": "nobody-x", "password": "whatever-pass", "device_id": "d1"},
		from("203.0.113.9, 198.51.100.1")), 429)
	ts.must(attempt("admin", "admin-passphrase-1", "198.51.100.2"), 200)
}
