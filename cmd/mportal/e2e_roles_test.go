package main

import (
	"testing"
	"time"
)

// TestDemotionReachesEveryInstance: two instances share the database and signing key. A demoted
// admin's unexpired access token loses the admin endpoints on both within
// MPORTAL_SESSION_RECHECK (300 ms here), although its roles claim still says admin.
func TestDemotionReachesEveryInstance(t *testing.T) {
	env := testEnv(t, nil)
	one := startServer(t, env)
	two := startServer(t, env)
	admin := one.signIn("admin", one.adminPassword(), "admin-passphrase-1", "admin-laptop")
	id, otp := one.createUser(admin.AccessToken, map[string]any{
		"employee_no": "D100", "name": "Deputy", "roles": []string{"employee", "admin"},
	})
	deputy := one.signIn("D100", otp, "deputy-passphrase", "deputy-phone")
	instances := map[string]*testServer{"the instance that demoted": one, "another instance": two}
	for name, ts := range instances {
		if r := ts.with(t).call("GET", "/v1/admin/users", deputy.AccessToken, nil); r.status != 200 {
			t.Fatalf("%s: the deputy admin got %d before the demotion", name, r.status)
		}
	}

	one.must(one.call("PUT", "/v1/admin/users/"+id+"/roles", admin.AccessToken, map[string][]string{"roles": {"employee"}}), 200)
	for name, ts := range instances {
		t.Run("admin endpoints refuse the old token on "+name, func(t *testing.T) {
			ts := ts.with(t)
			eventually(t, 10*time.Second, "demotion seen", func() bool {
				return ts.call("GET", "/v1/admin/users", deputy.AccessToken, nil).status == 403
			})
			r := ts.must(ts.call("POST", "/v1/admin/users", deputy.AccessToken, map[string]any{
				"employee_no": "X-" + name[:3], "name": "Should Not Exist",
			}), 403)
			if r.problemCode() != "forbidden" {
				t.Fatalf("got %s", r.body)
			}
			ts.must(ts.call("GET", "/v1/me", deputy.AccessToken, nil), 200) // still signed in
		})
	}
}
