package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// A change made in the console stands, and is answered as made, when its audit entry cannot be
// written: the failure is logged with who did what. Here the database refuses the entries (a
// unique index on the action lets each action be audited once): the second sign-in signs in,
// the second user created gets their one-time password page, and signing out clears the
// cookies. Before, each answered an error page: a session started but not handed over, a user
// who existed but whose password nobody saw, session cookies left in place.
func TestConsoleChangesStandWhenTheAuditLogRefusesThem(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.adminToken()
	// The database refuses a second entry of any action: the first sign-in, creation and sign-out
	// are audited, the second ones cannot be.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ts.main.db.Collection("audit_log").Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "action", Value: 1}}, Options: options.Index().SetUnique(true).SetName("one_per_action")}); err != nil {
		t.Fatal(err)
	}
	_, as := ts.consoleSignIn("admin", "admin-passphrase-1")
	en := withHeader("Accept-Language", "en")
	create := func(no string) response {
		return ts.consolePost(as, "/console/users", url.Values{"employee_no": {no}, "name": {"Audit " + no}}, en)
	}
	ts.must(create("A7001"), 201)
	ts.must(ts.consolePost(as, "/console/logout", nil), 303)
	r, as := ts.consoleSignIn("admin", "admin-passphrase-1")
	ts.must(r, 303)

	r = ts.must(create("A7002"), 201)
	if shownPassword.FindSubmatch(r.body) == nil {
		t.Fatalf("the created user's one-time password is not shown:\n%s", r.body)
	}
	var list struct {
		Items []struct {
			EmployeeNo string `json:"employee_no"`
		}
	}
	ts.must(ts.call("GET", "/v1/admin/users?q=A7002", admin, nil), 200).json(t, &list)
	if len(list.Items) != 1 {
		t.Errorf("the user was not created once: %+v", list.Items)
	}
	out := ts.must(ts.consolePost(as, "/console/logout", nil), 303)
	cleared := false
	for _, c := range out.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "mportal_console=;") || strings.HasPrefix(c, "mportal_console=") && strings.Contains(strings.ToLower(c), "max-age=0") ||
			strings.HasPrefix(c, "mportal_console=") && strings.Contains(c, "expires=Thu, 01 Jan 1970") {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("signing out did not clear the session cookie: %q", out.header.Values("Set-Cookie"))
	}
	logs := ts.logs.String()
	for _, action := range []string{"console.sign_in", "user.create", "console.sign_out"} {
		if !strings.Contains(logs, `"msg":"audit entry not recorded: the change was made","action":"`+action+`"`) {
			t.Errorf("the lost %s entry was not logged:\n%s", action, logs)
		}
	}
}
