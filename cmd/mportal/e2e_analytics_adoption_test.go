package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/testenv"
)

// TestAnalyticsReleaseAdoption follows one staged release from its publish day: its eligible
// devices, the days until half and 90% of them ran it, and the devices stuck below the
// track's minimum build, through HTTP against the contract.
func TestAnalyticsReleaseAdoption(t *testing.T) {
	start := time.Date(2030, 5, 6, 9, 0, 0, 0, time.UTC)
	clock := testenv.NewClock(start)
	ts := startServer(t, testEnv(t, nil), func(m *Main) { m.Clock = clock.Now })
	who := ts.staff()
	ts.createApp(who.ops, "portal")
	ts.publishAPK(who.ops, "portal", 101, "stable", 100)
	ts.must(ts.call("PUT", "/v1/ops/apps/portal/tracks/android/stable/min-build", who.ops, map[string]any{"min_build": 101}), 200)
	checkIn := func(token, deviceID string, build int) {
		d := device("android")
		d["build_number"] = build
		ts.must(ts.call("PUT", "/v1/devices/"+deviceID, token, d), 200)
	}
	releases := func(ops string) []struct {
		Build             int64
		Eligible, Reached int
		DaysTo50          *int `json:"days_to_50"`
		DaysTo90          *int `json:"days_to_90"`
	} {
		var out struct {
			Items []struct {
				Build             int64
				Eligible, Reached int
				DaysTo50          *int `json:"days_to_50"`
				DaysTo90          *int `json:"days_to_90"`
			}
		}
		ts.must(ts.call("GET", "/v1/ops/metrics/adoption/releases?app=portal", ops, nil), 200).json(t, &out)
		return out.Items
	}
	days := func(n *int) int {
		if n == nil {
			return -1
		}
		return *n
	}

	// Publish day: two devices on build 100, below the floor.
	checkIn(who.zh, "zh-phone", 100)
	checkIn(who.en, "en-phone", 100)
	eventually(t, 10*time.Second, "two eligible devices, none reached", func() bool {
		r := releases(who.ops)
		return len(r) == 1 && r[0].Build == 101 && r[0].Eligible == 2 && r[0].Reached == 0 && r[0].DaysTo50 == nil
	})
	var stuck struct {
		Items []struct {
			Platform, Channel string
			MinBuild          int64 `json:"min_build"`
			Active, Stuck     int
		}
	}
	ts.must(ts.call("GET", "/v1/ops/metrics/adoption/stuck?app=portal", who.ops, nil), 200).json(t, &stuck)
	if len(stuck.Items) != 1 || stuck.Items[0].MinBuild != 101 || stuck.Items[0].Active != 2 || stuck.Items[0].Stuck != 2 {
		t.Fatalf("stuck on the publish day = %+v", stuck)
	}
	var page struct {
		Items []struct {
			UserID     string `json:"user_id"`
			DeviceID   string `json:"device_id"`
			Department string
			Build      int64
		}
		Total      int
		NextOffset *int `json:"next_offset"`
	}
	ts.must(ts.call("GET", "/v1/ops/metrics/adoption/stuck/devices?app=portal&limit=1", who.ops, nil), 200).json(t, &page)
	if len(page.Items) != 1 || page.Total != 2 || page.NextOffset == nil || *page.NextOffset != 1 || page.Items[0].Build != 100 {
		t.Fatalf("first page of stuck devices = %+v", page)
	}
	first := page.Items[0].DeviceID
	ts.must(ts.call("GET", "/v1/ops/metrics/adoption/stuck/devices?app=portal&platform=android&offset=1&limit=1", who.ops, nil), 200).json(t, &page)
	if len(page.Items) != 1 || page.NextOffset != nil || page.Items[0].DeviceID == first {
		t.Fatalf("second page of stuck devices = %+v", page)
	}
	// offset+limit overflowed: the page's slice bounds panicked (a 500).
	page.Items, page.NextOffset = nil, nil
	ts.must(ts.call("GET", "/v1/ops/metrics/adoption/stuck/devices?app=portal&offset=9223372036854775807", who.ops, nil), 200).json(t, &page)
	if len(page.Items) != 0 || page.NextOffset != nil || page.Total != 2 {
		t.Fatalf("a page past the end = %+v", page)
	}

	// Two days later one device updates (half: day 2), the next day the other (all: day 3).
	// Access tokens last 15 minutes: everyone signs in again after the clock moves.
	relogin := func() {
		who.ops = ts.login("E7001", "E7001-passphrase", "E7001-phone").AccessToken
		who.zh = ts.login("E7002", "E7002-passphrase", "E7002-phone").AccessToken
		who.en = ts.login("E7003", "E7003-passphrase", "E7003-phone").AccessToken
	}
	clock.Advance(48 * time.Hour)
	relogin()
	checkIn(who.zh, "zh-phone", 101)
	eventually(t, 10*time.Second, "half reached on day 2", func() bool {
		r := releases(who.ops)
		return len(r) == 1 && r[0].Reached == 1 && days(r[0].DaysTo50) == 2 && r[0].DaysTo90 == nil
	})
	ts.must(ts.call("GET", "/v1/ops/metrics/adoption/stuck?app=portal", who.ops, nil), 200).json(t, &stuck)
	if stuck.Items[0].Active != 2 || stuck.Items[0].Stuck != 1 {
		t.Fatalf("stuck after one update = %+v", stuck)
	}
	clock.Advance(24 * time.Hour)
	relogin()
	checkIn(who.en, "en-phone", 102)
	eventually(t, 10*time.Second, "all reached on day 3 (a newer build counts)", func() bool {
		r := releases(who.ops)
		return len(r) == 1 && r[0].Reached == 2 && days(r[0].DaysTo50) == 2 && days(r[0].DaysTo90) == 3
	})
	csv := ts.must(ts.call("GET", "/v1/ops/metrics/adoption/releases.csv?app=portal", who.ops, nil), 200)
	lines := strings.Split(strings.TrimSpace(string(csv.body)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "release_id,") || !strings.HasSuffix(lines[1], ",2,3") {
		t.Fatalf("CSV = %q", csv.body)
	}

	t.Run("employees cannot read adoption; bad parameters are named", func(t *testing.T) {
		ts := ts.with(t)
		for _, path := range []string{"/v1/ops/metrics/adoption/releases?app=portal", "/v1/ops/metrics/adoption/releases.csv?app=portal",
			"/v1/ops/metrics/adoption/stuck?app=portal", "/v1/ops/metrics/adoption/stuck/devices?app=portal"} {
			if r := ts.call("GET", path, who.en, nil); r.status != 403 {
				t.Errorf("GET %s by an employee: %d", path, r.status)
			}
		}
		if r := ts.call("GET", "/v1/ops/metrics/adoption/stuck?app=nope", who.ops, nil); r.status != 404 {
			t.Errorf("unknown app: %d %s", r.status, r.body)
		}
		for path, field := range map[string]string{
			"/v1/ops/metrics/adoption/releases":                              "app",
			"/v1/ops/metrics/adoption/stuck/devices?app=portal&limit=0":      "limit",
			"/v1/ops/metrics/adoption/stuck/devices?app=portal&offset=-1":    "offset",
			"/v1/ops/metrics/adoption/stuck/devices?app=portal&platform=web": "platform",
		} {
			r := ts.call("GET", path, who.ops, nil, offContract)
			if r.status != 400 || !strings.Contains(string(r.body), `"`+field+`"`) {
				t.Errorf("GET %s: %d %s", path, r.status, r.body)
			}
		}
	})
}
