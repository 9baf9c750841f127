package main

import (
	"slices"
	"testing"
)

// TestBetaTestersSeeSharedFeedback follows one report across three features: a beta tester joins
// the beta channel through the distribution API, an employee on the beta build files feedback
// shared with the channel's testers (the app reports its package name, as in its check-in), the
// tester's next sync brings it, and leaving beta takes it away again.
func TestBetaTestersSeeSharedFeedback(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	ops := ts.newOps(admin, "E9100")
	alice := ts.newMember(admin, "E9101", "Field Ops", "en")
	tess := ts.newMember(admin, "E9102", "Sales", "en")
	ts.createApp(ops, "portal")
	ts.must(ts.call("PUT", "/v1/ops/apps/portal/channels/beta", ops, map[string]any{"self_opt_in": true}), 200)

	before := ts.syncPull(tess.token, 0)
	ts.must(ts.call("POST", "/v1/apps/portal/channels/beta/join", tess.token, nil), 200)
	ts.must(ts.call("POST", "/v1/apps/portal/channels/beta/join", alice.token, nil), 200) // sharing takes membership

	report := feedbackRecord("fbShared1", "The beta login screen flickers", true)
	report["app_id"] = appPackage("portal")
	private := feedbackRecord("fbPrivate1", "My own note", false)
	private["app_id"] = appPackage("portal")
	if res := ts.syncPush(alice.token, 0, feedbackChanges("feedback", report, private)); res.Accepted != 2 {
		t.Fatalf("push: %+v", res)
	}

	joined := ts.syncPull(tess.token, before.Timestamp)
	if got := ids(joined.Changes["feedback"].Updated); !slices.Equal(got, []string{"fbShared1"}) {
		t.Fatalf("after joining beta the tester pulled %v, want only the shared report", got)
	}
	if app := joined.Changes["feedback"].Updated[0]["app_id"]; app != "portal" {
		t.Fatalf("app_id = %v, want the catalogue id", app)
	}
	ts.must(ts.call("PUT", "/v1/feedback/fbShared1/me-too", tess.token, nil), 200)

	ts.must(ts.call("POST", "/v1/apps/portal/channels/beta/leave", tess.token, nil), 200)
	left := ts.syncPull(tess.token, joined.Timestamp)
	if got := left.Changes["feedback"].Deleted; !slices.Contains(got, "fbShared1") {
		t.Fatalf("after leaving beta the tester's pull deleted %v, want the shared report", got)
	}
	ts.must(ts.call("GET", "/v1/feedback/fbShared1", tess.token, nil), 404)
}
