package main

import (
	"testing"
)

// TestChannelAudienceChangesMoveDevicesAtOnce: a user whom alpha includes by department stops
// counting in it as soon as ops take the department off alpha, or an admin moves the user to
// another department: their phone is on stable at once, and alpha's announcements and pushes
// stop reaching them. Before, the phone kept alpha until it checked in again. An invited member
// of the same department keeps alpha throughout; a user who gains alpha gets it at the phone's
// next check-in.
func TestChannelAudienceChangesMoveDevicesAtOnce(t *testing.T) {
	f := newReleaseFixture(t)
	ts := f.ts.with(t)
	f.fieldApp(t) // alpha for IT
	it2, it2Token := ts.releaseUser(f.admin, "REL-IT2", "IT")
	ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/alpha/members/"+it2, f.ops, nil), 200)
	itPhone, it2Phone := device("android"), device("android")
	itPhone["app_id"], itPhone["channel"] = appPackage("field"), "alpha"
	it2Phone["app_id"], it2Phone["channel"] = appPackage("field"), "alpha"
	checkIn := func(token string, d map[string]any) string {
		t.Helper()
		var got struct{ Channel string }
		ts.must(ts.call("PUT", "/v1/devices/phone-1", token, d), 200).json(t, &got)
		return got.Channel
	}
	listed := func(token string) string {
		t.Helper()
		var list struct {
			Items []struct {
				DeviceID string `json:"device_id"`
				Channel  string
			}
		}
		ts.must(ts.call("GET", "/v1/devices", token, nil), 200).json(t, &list)
		for _, d := range list.Items {
			if d.DeviceID == "phone-1" {
				return d.Channel
			}
		}
		t.Fatalf("no phone-1 in %+v", list.Items)
		return ""
	}
	announce := func(title string) string {
		t.Helper()
		var ann struct{ ID string }
		ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
			"title": title, "body": "For alpha.", "audience": map[string]any{"channels": []string{"alpha"}},
		}), 201).json(t, &ann)
		ts.pushDone("announcement:" + ann.ID + ":publish")
		return ann.ID
	}
	pushes := func(d map[string]any) int { return f.fake.Count(d["push_token"].(string)) }
	if a, b := checkIn(f.itToken, itPhone), checkIn(it2Token, it2Phone); a != "alpha" || b != "alpha" {
		t.Fatalf("the IT phones checked in on %q and %q", a, b)
	}
	first := announce("Alpha 5.0")

	t.Run("ops take the department off the channel", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/alpha", f.ops, map[string]any{"departments": []string{}}), 200)
		if got := listed(f.itToken); got != "stable" {
			t.Errorf("IT's phone is on %q, want stable", got)
		}
		if got := listed(it2Token); got != "alpha" {
			t.Errorf("the invited member's phone is on %q, want alpha", got)
		}
		second := announce("Alpha 5.1")
		if n := pushes(itPhone); n != 1 {
			t.Errorf("IT's phone got %d pushes of alpha's announcements, want 1 (before the change)", n)
		}
		if n := pushes(it2Phone); n != 2 {
			t.Errorf("the invited member's phone got %d pushes of alpha's announcements, want 2", n)
		}
		ts.must(ts.call("GET", "/v1/announcements/"+first, f.itToken, nil), 404)
		ts.must(ts.call("GET", "/v1/announcements/"+first, it2Token, nil), 200)
		ts.must(ts.call("GET", "/v1/announcements/"+second, f.itToken, nil), 404)
	})

	t.Run("a user who gains the channel gets it at the next check-in", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/alpha", f.ops, map[string]any{"departments": []string{"IT"}}), 200)
		if got := listed(f.itToken); got != "stable" {
			t.Errorf("before checking in, IT's phone is on %q", got)
		}
		if got := checkIn(f.itToken, itPhone); got != "alpha" {
			t.Errorf("IT's phone checked in on %q, want alpha", got)
		}
	})

	t.Run("an admin moves the users to another department", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("PATCH", "/v1/admin/users/"+f.it, f.admin, map[string]string{"department": "Sales"}), 200)
		ts.must(ts.call("PATCH", "/v1/admin/users/"+it2, f.admin, map[string]string{"department": "Sales"}), 200)
		if got := listed(f.itToken); got != "stable" {
			t.Errorf("the moved user's phone is on %q, want stable", got)
		}
		if got := listed(it2Token); got != "alpha" {
			t.Errorf("the invited member's phone is on %q, want alpha", got)
		}
		third := announce("Alpha 5.2")
		if n := pushes(itPhone); n != 1 {
			t.Errorf("the moved user's phone got %d pushes of alpha's announcements, want 1", n)
		}
		ts.must(ts.call("GET", "/v1/announcements/"+third, f.itToken, nil), 404)
		ts.must(ts.call("GET", "/v1/announcements/"+third, it2Token, nil), 200)
		// The session may still carry IT (MPORTAL_SESSION_RECHECK); the check-in reads the
		// directory, so the phone reporting alpha stays on stable.
		if got := checkIn(f.itToken, itPhone); got != "stable" {
			t.Errorf("the moved user's phone checked in on %q, want stable", got)
		}
	})
}
