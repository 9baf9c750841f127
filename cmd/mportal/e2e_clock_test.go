package main

import (
	"testing"
	"time"

	"github.com/mportal/mportal/internal/testenv"
)

// Main.Clock is the one clock of the services: a server on a test calendar dates sessions and
// devices on it, and its tokens stay valid on it, whatever the wall clock says.
func TestMainClockReachesTheServices(t *testing.T) {
	start := time.Date(2031, 5, 4, 8, 0, 0, 0, time.UTC)
	clock := testenv.NewClock(start)
	clock.Run() // real waits (the session recheck) elapse, on the test's calendar
	ts := startServer(t, testEnv(t, nil), func(m *Main) { m.Clock = clock.Now })
	admin := ts.adminToken()
	onTestCalendar := func(t *testing.T, what, value string) {
		t.Helper()
		at, err := time.Parse(time.RFC3339Nano, value)
		if err != nil || at.Before(start) || at.After(clock.Now()) {
			t.Fatalf("%s = %q (%v), want a time on the test clock, from %s to %s", what, value, err, start, clock.Now())
		}
	}

	t.Run("sessions are dated on the clock", func(t *testing.T) {
		ts := ts.with(t)
		var list struct {
			Items []struct {
				CreatedAt string `json:"created_at"`
			}
		}
		ts.must(ts.call("GET", "/v1/auth/sessions", admin, nil), 200).json(t, &list)
		if len(list.Items) == 0 {
			t.Fatal("no sessions")
		}
		for _, s := range list.Items {
			onTestCalendar(t, "session created_at", s.CreatedAt)
		}
	})
	t.Run("devices are dated on the clock", func(t *testing.T) {
		ts := ts.with(t)
		var got struct {
			LastSeenAt string `json:"last_seen_at"`
		}
		ts.must(ts.call("PUT", "/v1/devices/phone-1", admin, device("android")), 200).json(t, &got)
		onTestCalendar(t, "device last_seen_at", got.LastSeenAt)
	})
}
