package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// watermelonDir is the Node project that runs the stock WatermelonDB client
// (sync/watermelontest, installed by deploy/dev/setup.sh).
const watermelonDir = "../../sync/watermelontest"

// watermelonScenario is one scenario of sync/watermelontest/scenarios.js. seeded: the server
// holds an announcement for everyone (and so an inbox item for each user) before the devices
// first sync; without it the database is empty apart from the users. The approvals-*
// scenarios also find an OA integration and send its events through the Go test (cfg.oa),
// which signs them.
type watermelonScenario struct {
	name, title string
	seeded      bool
}

var watermelonScenarios = []watermelonScenario{
	{"first-sync", "a first sync on an empty server succeeds and lists every table", false},
	{"create-push-pull", "records created on one device reach the user's other device and no one else", true},
	{"per-column-merge", "edits of different columns on two devices are merged", false},
	{"delete-after-push", "a pushed record deleted before the next sync is deleted everywhere", false},
	{"delete-before-first-push", "a record created and deleted offline syncs without error", false},
	{"lost-push-response", "a push whose response was lost is pushed again without duplicates", false},
	{"replayed-push", "a push sent twice, in turn or at once, creates nothing twice", false},
	{"migration-sync", "a migration sync brings a table the app added", true},
	{"inbox-mark-read", "an inbox item marked read on one device is read everywhere", true},
	{"inbox-withdrawn", "a withdrawn announcement and its inbox item leave every device", true},
	{"announcements-read-only", "a pushed edit of an announcement is rejected, not an error", true},
	{"records-fit-the-schema", "every pulled value fits its WatermelonDB column", true},
	{"training-progress-migration", "a migration sync to schema 4 brings watch progress recorded offline on another device", false},
	{"training-progress-converge", "two devices' overlapping offline watch progress converges", false},
	{"approvals-migration-sync", "a migration sync from schema 2 to 3 brings the approvals tables and the pending tasks", false},
	{"approvals-decide-offline", "an offline decision is pushed and comes back decided; one on a withdrawn task is rejected with the reason", false},
	{"approvals-per-approver", "each approver pulls only their own tasks, and a reassigned task leaves the former one's device", false},
}

// TestWatermelonDB syncs the stock WatermelonDB client (0.28, LokiJS adapter in Node) with a
// whole server started on an empty database, one server per scenario. Node's requests go
// through a loopback proxy that checks every exchange against the contract, and a scenario
// fails on any error WatermelonDB logs.
func TestWatermelonDB(t *testing.T) {
	node := watermelonNode(t)
	out, err := exec.Command(node, filepath.Join(watermelonDir, "run.js"), "--list").CombinedOutput()
	if err != nil {
		t.Fatalf("node run.js --list: %v\n%s", err, out)
	}
	var names []string
	for _, s := range watermelonScenarios {
		names = append(names, s.name)
	}
	if listed := strings.Fields(string(out)); !slices.Equal(listed, names) {
		t.Fatalf("scenarios.js has %v, this test runs %v", listed, names)
	}
	for _, sc := range watermelonScenarios {
		t.Run(sc.title, func(t *testing.T) {
			cfg := seedWatermelon(t, sc.seeded, strings.HasPrefix(sc.name, "approvals-"))
			if strings.HasPrefix(sc.name, "training-progress") {
				seedTrainingVideo(t, &cfg)
			}
			runWatermelon(t, node, sc.name, cfg)
		})
	}
}

// watermelonNode returns the node binary, failing (never skipping) when it or the project's
// node_modules is missing.
func watermelonNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: run deploy/dev/setup.sh (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(watermelonDir, "node_modules", "@nozbe", "watermelondb", "package.json")); err != nil {
		t.Fatalf("WatermelonDB is not installed in sync/watermelontest: run deploy/dev/setup.sh (%v)", err)
	}
	return node
}

// watermelonUser is a user as the scenarios see it: one access token per device.
type watermelonUser struct {
	ID         string   `json:"id"`
	EmployeeNo string   `json:"employee_no"`
	Name       string   `json:"name"`
	Sessions   []string `json:"sessions"`
}

// watermelonConfig is what run.js reads from MPORTAL_WMDB_CONFIG.
type watermelonConfig struct {
	URL            string                    `json:"url"`
	Users          map[string]watermelonUser `json:"users"`
	Ops            string                    `json:"ops"`
	AnnouncementID string                    `json:"announcement_id,omitempty"`
	// TrainingVideoID is a processed training video for everyone, of TrainingDurationMS.
	TrainingVideoID    string `json:"training_video_id,omitempty"`
	TrainingDurationMS int64  `json:"training_duration_ms,omitempty"`
	// ts and admin let a scenario's seeding add what it needs.
	ts    *testServer
	admin string
	// OA is the URL where the scenario posts OA events (approvals scenarios): the Go test signs
	// each, sends it to the server and answers once the server has processed it.
	OA string `json:"oa,omitempty"`
}

// seedWatermelon starts a server on an empty database with alice (three devices), bob (one) and
// an ops user, optionally publishes an announcement for everyone, and returns the scenario's configuration
// with the URL of a contract-checking proxy in front of the server.
func seedWatermelon(t *testing.T, seeded, approvals bool) watermelonConfig {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	user := func(employeeNo, name string, devices int) watermelonUser {
		id, otp := ts.createUser(admin, map[string]any{
			"employee_no": employeeNo, "name": name, "department": "Field Ops", "locale": "en",
		})
		u := watermelonUser{ID: id, EmployeeNo: employeeNo, Name: name}
		password := employeeNo + "-passphrase"
		u.Sessions = append(u.Sessions, ts.signIn(employeeNo, otp, password, employeeNo+"-device-0").AccessToken)
		for i := 1; i < devices; i++ {
			u.Sessions = append(u.Sessions, ts.login(employeeNo, password, employeeNo+"-device-"+string(rune('0'+i))).AccessToken)
		}
		return u
	}
	cfg := watermelonConfig{Users: map[string]watermelonUser{
		"alice": user("E9101", "Alice Field", 3),
		"bob":   user("E9102", "Bob Field", 1),
	}, Ops: ts.newOps(admin, "E9100")}
	if seeded {
		var ann opsAnnouncement
		ts.must(ts.call("POST", "/v1/ops/announcements", cfg.Ops, map[string]any{
			"title": "Depot closed", "body": "The depot is closed **today**.",
			"audience": map[string]any{"all": true}, "importance": "important",
		}), 201).json(t, &ann)
		ts.pushDone("announcement:" + ann.ID + ":publish")
		cfg.AnnouncementID = ann.ID
	}
	if approvals {
		cfg.OA = watermelonOA(t, ts, admin)
	}
	cfg.URL = contractProxy(t, ts)
	cfg.ts, cfg.admin = ts, admin
	return cfg
}

// contractProxy serves ts on another loopback port through the contract-checked client, so
// every exchange of the Node client is validated against mobile-contract/openapi.yaml.
func contractProxy(t *testing.T, ts *testServer) string {
	target, err := url.Parse(ts.base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = ts.spec.Client(t, nil).Transport
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

// runWatermelon runs one scenario in node and fails the test when it fails; node's output is
// always logged.
func runWatermelon(t *testing.T, node, scenario string, cfg watermelonConfig) {
	t.Helper()
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "run.js", scenario)
	cmd.Dir = watermelonDir
	cmd.Env = append(os.Environ(), "MPORTAL_WMDB_CONFIG="+string(data))
	out, err := cmd.CombinedOutput()
	t.Logf("node run.js %s:\n%s", scenario, out)
	if err != nil {
		t.Fatalf("scenario %s failed: %v (output above)", scenario, err)
	}
}
