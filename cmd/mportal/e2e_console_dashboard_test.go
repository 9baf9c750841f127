package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// One part of the dashboard whose service fails (here: a training video document that cannot
// be read) is left out and named; the other parts still show, and the failure is logged.
// Before, the whole home page answered an error page.
func TestConsoleDashboardShowsThePartsThatCanBeRead(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.adminToken()
	ts.newEmployee(admin, "E4101", "Sales")
	_, s := ts.consoleSignIn("admin", "admin-passphrase-1")
	en := withHeader("Accept-Language", "en")

	page := string(ts.must(ts.call("GET", "/console/", "", nil, s.cookies(), en), 200).body)
	if strings.Contains(page, `id="dash-unavailable"`) {
		t.Fatalf("a healthy dashboard names unavailable parts:\n%s", page)
	}
	for _, want := range []string{`id="apps-count">0<`, `id="feedback-open"`, `id="training-h"`, `id="rollouts-h"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the healthy dashboard lacks %s:\n%s", want, page)
		}
	}

	// A video whose title is a number: the training report cannot decode it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ts.main.db.Collection("training_videos").InsertOne(ctx, bson.D{{Key: "_id", Value: "broken"},
		{Key: "title", Value: 42}, {Key: "deleted", Value: false}, {Key: "created_at", Value: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	page = string(ts.must(ts.call("GET", "/console/", "", nil, s.cookies(), en), 200).body)
	i := strings.Index(page, `id="dash-unavailable"`)
	if i < 0 {
		t.Fatalf("the dashboard does not name the part it left out:\n%s", page)
	}
	notice := page[i:]
	notice = notice[:strings.Index(notice, "</p>")]
	if !strings.Contains(notice, "Training completion") || strings.Contains(notice, "Feedback") {
		t.Errorf("notice %q: want the training part named, and only it", notice)
	}
	if strings.Contains(page, `id="training-h"`) {
		t.Errorf("the training part is shown though it could not be read")
	}
	for _, want := range []string{`id="apps-count">0<`, `id="feedback-open"`, `id="rollouts-h"`, `id="backlog-h"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the dashboard lost %s with the training part:\n%s", want, page)
		}
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "console dashboard: a part could not be read") ||
		!strings.Contains(logs, `"part":"training_completion"`) {
		t.Errorf("the failure was not logged with its part:\n%s", logs)
	}
}
