package main

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAdminManagesUsers(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1")
	tok := admin.AccessToken

	id, otp := ts.createUser(tok, map[string]any{
		"employee_no": "E1001", "name": "Li Lei", "email": "Li.Lei@example.com",
		"department": "Field Ops", "roles": []string{"beta_tester"},
	})
	t.Run("creates a user who signs in by e-mail with the one-time password", func(t *testing.T) {
		ts := ts.with(t)
		if otp == "" {
			t.Fatal("no one-time password")
		}
		s := ts.signIn("li.lei@example.com", otp, "li-lei-passphrase", "phone-1")
		var me map[string]any
		ts.must(ts.call("GET", "/v1/me", s.AccessToken, nil), 200).json(t, &me)
		if me["employee_no"] != "E1001" || me["department"] != "Field Ops" {
			t.Fatalf("me %v", me)
		}
	})
	t.Run("refuses a second user with the same employee number", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("POST", "/v1/admin/users", tok, map[string]any{"employee_no": "e1001", "name": "Someone"}), 409)
		if r.problemCode() != "conflict" {
			t.Fatalf("code %q", r.problemCode())
		}
	})
	t.Run("rejects invalid fields with the field named", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("POST", "/v1/admin/users", tok, map[string]any{"employee_no": "E 1", "name": "x"}, offContract), 400)
		if !strings.Contains(string(r.body), `"field":"employee_no"`) {
			t.Fatalf("body %s", r.body)
		}
	})
	t.Run("gets, updates, and sets roles", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("GET", "/v1/admin/users/"+id, tok, nil), 200)
		var u map[string]any
		ts.must(ts.call("PATCH", "/v1/admin/users/"+id, tok, map[string]string{"department": "IT"}), 200).json(t, &u)
		if u["department"] != "IT" {
			t.Fatalf("user %v", u)
		}
		ts.must(ts.call("PUT", "/v1/admin/users/"+id+"/roles", tok, map[string][]string{"roles": {"approver"}}), 200).json(t, &u)
		roles := u["roles"].([]any)
		if len(roles) != 2 { // employee is always kept
			t.Fatalf("roles %v", roles)
		}
		ts.must(ts.call("GET", "/v1/admin/users/nope", tok, nil), 404)
	})
	t.Run("lists users with filters and departments", func(t *testing.T) {
		ts := ts.with(t)
		var page struct {
			Items      []map[string]any
			NextCursor *string `json:"next_cursor"`
		}
		ts.must(ts.call("GET", "/v1/admin/users?department=IT&limit=10", tok, nil), 200).json(t, &page)
		if len(page.Items) != 1 || page.Items[0]["employee_no"] != "E1001" || page.NextCursor != nil {
			t.Fatalf("page %+v", page)
		}
		ts.must(ts.call("GET", "/v1/admin/users?limit=1", tok, nil), 200).json(t, &page)
		if len(page.Items) != 1 || page.NextCursor == nil {
			t.Fatalf("first page %+v", page)
		}
		ts.must(ts.call("GET", "/v1/admin/users?limit=1&cursor="+*page.NextCursor, tok, nil), 200).json(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("second page %+v", page)
		}
		var deps struct {
			Items []struct {
				Name      string
				UserCount int `json:"user_count"`
			}
		}
		ts.must(ts.call("GET", "/v1/admin/departments", tok, nil), 200).json(t, &deps)
		found := false
		for _, d := range deps.Items {
			found = found || d.Name == "IT" && d.UserCount == 1
		}
		if !found {
			t.Fatalf("departments %+v", deps.Items)
		}
	})
	t.Run("imports a CSV file idempotently with per-row results", func(t *testing.T) {
		ts := ts.with(t)
		csv := "employee_no,name,email,department,roles\n" +
			"E3001,Han Meimei,han@example.com,Sales,employee;beta_tester\n" +
			"E3002,,nobody@example.com,Sales,\n" +
			"E1001,Li Lei,li.lei@example.com,Field Ops,employee;approver\n"
		importCSV := func() map[string]any {
			var res map[string]any
			ts.must(ts.call("POST", "/v1/admin/users/import", tok, csv, withHeader("Content-Type", "text/csv")), 200).json(t, &res)
			return res
		}
		res := importCSV()
		if res["created"] != float64(1) || res["failed"] != float64(1) || res["updated"] != float64(1) {
			t.Fatalf("first import %v", res)
		}
		rows := res["rows"].([]any)
		bad := rows[1].(map[string]any)
		if bad["line"] != float64(3) || bad["status"] != "error" || bad["error"] == "" {
			t.Fatalf("bad row %v", bad)
		}
		again := importCSV()
		if again["created"] != float64(0) || again["unchanged"] != float64(2) {
			t.Fatalf("re-import %v", again)
		}
		r := ts.call("POST", "/v1/admin/users/import", tok, csv, withHeader("Content-Type", "application/json"), offContract)
		ts.must(r, 415)
	})
	t.Run("a password reset and a revocation end the user's sessions", func(t *testing.T) {
		ts := ts.with(t)
		s := ts.login("E1001", "li-lei-passphrase", "phone-2")
		var out struct {
			OneTimePassword string `json:"one_time_password"`
		}
		ts.must(ts.call("POST", "/v1/admin/users/"+id+"/password-reset", tok, nil), 200).json(t, &out)
		ts.must(ts.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken, "device_id": "phone-2"}), 401)
		s = ts.signIn("E1001", out.OneTimePassword, "li-lei-passphrase-2", "phone-2")
		ts.must(ts.call("POST", "/v1/admin/users/"+id+"/revoke-sessions", tok, nil), 204)
		ts.must(ts.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken, "device_id": "phone-2"}), 401)
	})
	t.Run("disabling a user stops refresh at once and access tokens within the recheck", func(t *testing.T) {
		ts := ts.with(t)
		s := ts.login("E1001", "li-lei-passphrase-2", "phone-3")
		ts.must(ts.call("GET", "/v1/me", s.AccessToken, nil), 200)
		ts.must(ts.call("PATCH", "/v1/admin/users/"+id, tok, map[string]string{"status": "disabled"}), 200)
		ts.must(ts.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken, "device_id": "phone-3"}), 401)
		eventually(t, 10*time.Second, "a disabled user's access token is refused", func() bool {
			return ts.call("GET", "/v1/me", s.AccessToken, nil).status == 401
		})
	})
	t.Run("an admin cannot disable themself", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("PATCH", "/v1/admin/users/"+admin.User.ID, tok, map[string]string{"status": "disabled"}), 409)
	})
}

// TestObjectAuthorization: users reach only their own objects (BOLA) and only the functions of
// their roles (BFLA); ops is not admin.
func TestObjectAuthorization(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1")
	_, otpA := ts.createUser(admin.AccessToken, map[string]any{"employee_no": "A1", "name": "Alice"})
	_, otpB := ts.createUser(admin.AccessToken, map[string]any{"employee_no": "B1", "name": "Bob", "roles": []string{"ops"}})
	alice := ts.signIn("A1", otpA, "alice-passphrase", "alice-phone")
	bob := ts.signIn("B1", otpB, "bob-passphrase-1", "bob-phone")

	ts.must(ts.call("PUT", "/v1/devices/shared-id", alice.AccessToken, device("ios")), 200)
	t.Run("another user's device is invisible and cannot be deleted", func(t *testing.T) {
		ts := ts.with(t)
		var list struct{ Items []any }
		ts.must(ts.call("GET", "/v1/devices", bob.AccessToken, nil), 200).json(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("bob sees %v", list.Items)
		}
		ts.must(ts.call("DELETE", "/v1/devices/shared-id", bob.AccessToken, nil), 404)
		ts.must(ts.call("GET", "/v1/devices", alice.AccessToken, nil), 200).json(t, &list)
		if len(list.Items) != 1 {
			t.Fatalf("alice's device is gone: %v", list.Items)
		}
	})
	t.Run("checking in with another user's device id creates one's own record", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("PUT", "/v1/devices/shared-id", bob.AccessToken, device("android")), 200)
		var list struct{ Items []map[string]any }
		ts.must(ts.call("GET", "/v1/devices", alice.AccessToken, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0]["platform"] != "ios" {
			t.Fatalf("alice's device changed: %v", list.Items)
		}
	})
	t.Run("another user's session cannot be revoked", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("DELETE", "/v1/auth/sessions/"+alice.SessionID, bob.AccessToken, nil), 404)
		ts.must(ts.call("GET", "/v1/me", alice.AccessToken, nil), 200)
	})
	t.Run("employees and ops cannot use admin functions", func(t *testing.T) {
		ts := ts.with(t)
		routes := []struct{ method, path string }{
			{"GET", "/v1/admin/users"}, {"POST", "/v1/admin/users"}, {"GET", "/v1/admin/users/" + alice.User.ID},
			{"PATCH", "/v1/admin/users/" + alice.User.ID}, {"PUT", "/v1/admin/users/" + alice.User.ID + "/roles"},
			{"POST", "/v1/admin/users/" + alice.User.ID + "/password-reset"},
			{"POST", "/v1/admin/users/" + alice.User.ID + "/revoke-sessions"},
			{"GET", "/v1/admin/departments"}, {"POST", "/v1/admin/users/import"},
		}
		for _, who := range []tokens{alice, bob} {
			for _, r := range routes {
				var body any
				if r.method == "POST" || r.method == "PATCH" || r.method == "PUT" {
					body = "{}"
				}
				resp := ts.call(r.method, r.path, who.AccessToken, body, offContract)
				if resp.status != http.StatusForbidden || resp.problemCode() != "forbidden" {
					t.Errorf("%s %s as %s: %d %s", r.method, r.path, who.User.ID, resp.status, resp.body)
				}
			}
		}
	})
	t.Run("a user cannot raise their own roles", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.call("PATCH", "/v1/me", alice.AccessToken, `{"roles":["admin"]}`, offContract)
		var me map[string]any
		ts.must(ts.call("GET", "/v1/me", alice.AccessToken, nil), 200).json(t, &me)
		for _, role := range me["roles"].([]any) {
			if role == "admin" {
				t.Fatalf("PATCH /v1/me granted admin (status %d)", r.status)
			}
		}
	})
	t.Run("a token for another user cannot be forged from a valid one", func(t *testing.T) {
		ts := ts.with(t)
		parts := strings.Split(alice.AccessToken, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		payload = bytes.Replace(payload, []byte(alice.User.ID), []byte(bob.User.ID), 1)
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		ts.must(ts.call("GET", "/v1/me", forged, nil), 401)
	})
}
