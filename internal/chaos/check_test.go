package chaos

import (
	"strings"
	"testing"
	"time"
)

// aliceDevices is two devices of one user, both allowed to see her records.
func aliceDevices(pulls ...[]Pull) []DeviceLog {
	out := make([]DeviceLog, len(pulls))
	for i, p := range pulls {
		out[i] = DeviceLog{Device: "alice-" + string(rune('a'+i)), Pulls: p}
	}
	return out
}

func TestCheckSync(t *testing.T) {
	writes := []SyncWrite{
		{Table: "feedback", ID: "f1", Value: "v1", Seq: 1},
		{Table: "feedback", ID: "f1", Value: "v2", Seq: 2},
		{Table: "feedback", ID: "f2", Value: "x", Seq: 3},
		{Table: "feedback", ID: "f2", Deleted: true, Seq: 4},
	}
	full := Pull{Updated: map[string]map[string]string{"feedback": {"f1": "v2", "f2": "x"}}}
	del := Pull{Deleted: map[string][]string{"feedback": {"f2"}}}
	t.Run("passes when every device ends with the last 2xx state", func(t *testing.T) {
		g := CheckSync(writes, aliceDevices([]Pull{full, del}, []Pull{full, del}))
		if !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
	})
	t.Run("fails when a device never pulled a 2xx write (a sync write dropped)", func(t *testing.T) {
		dropped := Pull{Updated: map[string]map[string]string{"feedback": {"f2": "x"}}}
		g := CheckSync(writes, aliceDevices([]Pull{full, del}, []Pull{dropped, del}))
		if g.Pass || !strings.Contains(g.Detail, "alice-b never pulled feedback/f1") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("fails when a device kept an older value", func(t *testing.T) {
		old := Pull{Updated: map[string]map[string]string{"feedback": {"f1": "v1"}}}
		g := CheckSync(writes, aliceDevices([]Pull{full, del, old}))
		if g.Pass || !strings.Contains(g.Detail, `last 2xx write was "v2"`) {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("fails when a deleted record stays on a device", func(t *testing.T) {
		g := CheckSync(writes, aliceDevices([]Pull{full}))
		if g.Pass || !strings.Contains(g.Detail, "still has feedback/f2") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("fails when one pull sends a record twice", func(t *testing.T) {
		twice := Pull{Updated: map[string]map[string]string{"feedback": {"f2": "x"}}, Deleted: map[string][]string{"feedback": {"f2", "f2"}}}
		g := CheckSync(writes, aliceDevices([]Pull{full, twice}))
		if g.Pass || !strings.Contains(g.Detail, "twice") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("fails when one pull sends a record as updated twice", func(t *testing.T) {
		twice := Pull{Updated: map[string]map[string]string{"feedback": {"f1": "v2"}}, Repeated: map[string][]string{"feedback": {"f1"}}}
		g := CheckSync(writes, aliceDevices([]Pull{full, del, twice}))
		if g.Pass || !strings.Contains(g.Detail, "as updated twice") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("checks a record of another table the server settles: its last 2xx state, or its presence", func(t *testing.T) {
		// an attachment created pending, its upload seen complete; another one created, its
		// upload refused (failed or pending: the client cannot tell)
		att := append(writes[:4:4], SyncWrite{Table: "feedback_attachments", ID: "p1", Value: "pending", Seq: 5},
			SyncWrite{Table: "feedback_attachments", ID: "p1", Value: "complete", Seq: 6},
			SyncWrite{Table: "feedback_attachments", ID: "p2", AnyValue: true, Seq: 7})
		settled := Pull{Updated: map[string]map[string]string{"feedback_attachments": {"p1": "complete", "p2": "failed"}}}
		if g := CheckSync(att, aliceDevices([]Pull{full, del, settled})); !g.Pass || !strings.Contains(g.Detail, "feedback 4, feedback_attachments 3") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
		stale := Pull{Updated: map[string]map[string]string{"feedback_attachments": {"p1": "pending", "p2": "failed"}}}
		if g := CheckSync(att, aliceDevices([]Pull{full, del, stale})); g.Pass || !strings.Contains(g.Detail, `feedback_attachments/p1 = "pending", last 2xx write was "complete"`) {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
		missing := Pull{Updated: map[string]map[string]string{"feedback_attachments": {"p1": "complete"}}}
		if g := CheckSync(att, aliceDevices([]Pull{full, del, missing})); g.Pass || !strings.Contains(g.Detail, "never pulled feedback_attachments/p2") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("ignores records a device may not see", func(t *testing.T) {
		d := DeviceLog{Device: "carol", MaySee: func(string, string) bool { return false }}
		if g := CheckSync(writes, []DeviceLog{d}); !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
	})
}

func TestCheckPush(t *testing.T) {
	once := []Delivery{{"tok-1", "n1"}, {"tok-2", "n1"}, {"tok-1", "n2"}}
	expected := []Expected{{Token: "tok-1", Notification: "n1"}, {Token: "tok-2", Notification: "n1"},
		{Token: "tok-1", Notification: "n2"}, {Token: "tok-3", Notification: "n1", DeadLettered: true}}
	t.Run("passes when each pair arrived once or was dead-lettered", func(t *testing.T) {
		if g := CheckPushAtMostOnce(once); !g.Pass {
			t.Fatal(g.Detail)
		}
		if g := CheckPushAtLeastOnce(expected, once); !g.Pass {
			t.Fatal(g.Detail)
		}
	})
	t.Run("fails when a push was recorded twice", func(t *testing.T) {
		g := CheckPushAtMostOnce(append(once, Delivery{"tok-2", "n1"}))
		if g.Pass || !strings.Contains(g.Detail, "tok-2 got n1 2 times") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("fails when a push that was not dead-lettered never arrived", func(t *testing.T) {
		g := CheckPushAtLeastOnce(expected, once[:2])
		if g.Pass || !strings.Contains(g.Detail, "tok-1 never got n2") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
}

func TestCheckOutage(t *testing.T) {
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // a fixed instant: the checker never reads the clock
	w := Window{Name: "database stopped 20s", Start: t0, End: t0.Add(20 * time.Second)}
	at := func(s float64, status int, retry bool) Answer {
		return Answer{At: t0.Add(time.Duration(s * float64(time.Second))), Status: status, RetryAfter: retry, Took: time.Second}
	}
	good := []Answer{at(-1, 200, false), at(1, 503, true), at(19, 503, true), at(21, 503, true), at(23.5, 200, false)}
	t.Run("passes on 503 with Retry-After and reports the recovery time", func(t *testing.T) {
		g := CheckOutage(w, good, 30*time.Second, 10*time.Second)
		if !g.Pass || !strings.Contains(g.Detail, "recovered 4.5s after") || !strings.Contains(g.Detail, "3 answered 503") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	for _, tc := range []struct {
		name string
		bad  Answer
		want string
	}{
		{"fails on a 500", at(5, 500, false), "status 500"},
		{"fails on a 503 without Retry-After", at(5, 503, false), "without Retry-After"},
		{"fails on a request without an answer", Answer{At: t0.Add(5 * time.Second), Took: time.Second}, "no answer"},
		{"fails on a hang past the timeout", Answer{At: t0.Add(5 * time.Second), Status: 503, RetryAfter: true, Took: 11 * time.Second}, "took 11s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := CheckOutage(w, append(good, tc.bad), 30*time.Second, 10*time.Second)
			if g.Pass || !strings.Contains(g.Detail, tc.want) {
				t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
			}
		})
	}
	t.Run("fails when nothing succeeds after the outage", func(t *testing.T) {
		g := CheckOutage(w, good[:4], 30*time.Second, 10*time.Second)
		if g.Pass || !strings.Contains(g.Detail, "no 2xx within 30s") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("a rolling restart fails on any failed request", func(t *testing.T) {
		roll := Window{Name: "rolling restart", Start: t0, End: t0.Add(20 * time.Second)}
		if g := CheckNoFailure(roll, []Answer{at(1, 200, false), at(2, 404, false)}); !g.Pass {
			t.Fatal(g.Detail)
		}
		if g := CheckNoFailure(roll, []Answer{at(1, 200, false), at(2, 0, false)}); g.Pass {
			t.Fatal("a connection error during the rolling restart passed")
		}
		inFlight := Answer{At: t0.Add(-2 * time.Second), Took: 3 * time.Second} // cut by the first SIGTERM
		if g := CheckNoFailure(roll, []Answer{at(1, 200, false), inFlight}); g.Pass {
			t.Fatal("a request in flight when the rolling restart began, cut by it, passed")
		}
	})
	t.Run("every route that answered 503 must resume, not only one", func(t *testing.T) {
		route := func(a Answer, r string) Answer { a.Request = r; return a }
		both := []Answer{route(at(1, 503, true), "POST /v1/sync/push"), route(at(2, 503, true), "GET /v1/sync/pull"),
			route(at(21, 200, false), "GET /v1/sync/pull"), route(at(22, 404, false), "POST /v1/sync/push"),
			route(at(3, 200, false), "GET /healthz")} // never unavailable: not judged
		g := CheckOutage(w, both, 30*time.Second, 10*time.Second)
		if !g.Pass || !strings.Contains(g.Detail, "recovered 2s after, every one of 2 routes it made answer 503 3s after") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
		stuck := append(both[:3:3], route(at(22, 503, true), "POST /v1/sync/push"), route(at(40, 503, true), "POST /v1/sync/push"))
		g = CheckOutage(w, stuck, 30*time.Second, 10*time.Second)
		if g.Pass || !strings.Contains(g.Detail, "POST /v1/sync/push answered 503 in the outage and still did until 30s after it") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
		// a route not asked again after the outage cannot be judged
		if g := CheckOutage(w, both[:3], 30*time.Second, 10*time.Second); !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
		// a 503 answered after the window (the next fault may have begun) is not a relapse
		late := append(both[:4:4], Answer{At: t0.Add(49 * time.Second), Status: 503, RetryAfter: true, Took: 2 * time.Second, Request: "POST /v1/sync/push"})
		if g := CheckOutage(w, late, 30*time.Second, 10*time.Second); !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
		// a route that answered once, then 503 again, has not recovered
		relapse := append(both[:4:4], route(at(30, 503, true), "POST /v1/sync/push"))
		g = CheckOutage(w, relapse, 30*time.Second, 10*time.Second)
		if g.Pass || !strings.Contains(g.Detail, "POST /v1/sync/push answered again after the outage, then 503 once more") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("recovery is timed to the first 2xx answer, not to its request's start", func(t *testing.T) {
		slow := Answer{At: t0.Add(20100 * time.Millisecond), Status: 200, Took: 25 * time.Second}
		g := CheckOutage(w, []Answer{at(1, 503, true), slow}, 30*time.Second, 30*time.Second)
		if !g.Pass || !strings.Contains(g.Detail, "recovered 25.1s after") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
}

// Every answer of the run is checked, not only those in the fault windows; a kill -9 excuses
// only the requests it may have cut.
func TestCheckEveryAnswer(t *testing.T) {
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64, status int, retry bool, took time.Duration) Answer {
		return Answer{At: t0.Add(time.Duration(s * float64(time.Second))), Status: status, RetryAfter: retry, Took: took,
			Request: "GET /v1/x"}
	}
	kills := []time.Time{t0.Add(100 * time.Second)}
	good := []Answer{at(1, 200, false, time.Second), at(2, 404, false, time.Second), at(3, 503, true, time.Second),
		at(99, 0, false, 2*time.Second), at(102, 502, false, time.Millisecond)} // in flight at the kill; just after it
	if g := CheckEveryAnswer(good, kills, 30*time.Second); !g.Pass || !strings.Contains(g.Detail, "2 cut by a kill -9") {
		t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
	}
	for _, tc := range []struct {
		name string
		bad  Answer
		want string
	}{
		{"a 500 in the plain load", at(50, 500, false, time.Second), "status 500"},
		{"a 500 right at a kill", at(100.5, 500, false, time.Second), "status 500"},
		{"no answer far from any kill", at(50, 0, false, time.Second), "no answer"},
		{"HAProxy's 502 far from any kill", at(200, 502, false, time.Second), "status 502"},
		{"a 503 without Retry-After", at(50, 503, false, time.Second), "without Retry-After"},
		{"a hang", at(50, 200, false, 31*time.Second), "took 31s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := CheckEveryAnswer(append(good, tc.bad), kills, 30*time.Second)
			if g.Pass || !strings.Contains(g.Detail, tc.want) {
				t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
			}
		})
	}
}

func TestCheckReadyzDown(t *testing.T) {
	if g := CheckReadyzDown("MinIO stopped", []int{503, 503, 503}); !g.Pass {
		t.Fatal(g.Detail)
	}
	for _, bad := range [][]int{{503, 200, 503}, {503, 0, 503}, nil} {
		if g := CheckReadyzDown("MinIO stopped", bad); g.Pass {
			t.Errorf("%v passed", bad)
		}
	}
}

func TestReportFailsOnFailedGuarantees(t *testing.T) {
	var r Report
	r.Add(Guarantee{Name: "a", Pass: true})
	if f := r.Failed(); len(f) != 0 {
		t.Fatalf("failed %+v", f)
	}
	r.Add(Guarantee{Name: "c", Pass: false})
	if f := r.Failed(); len(f) != 1 || f[0].Name != "c" {
		t.Fatalf("failed %+v", f)
	}
	var sb strings.Builder
	r.Print(&sb)
	if !strings.Contains(sb.String(), "FAIL    c") {
		t.Fatal(sb.String())
	}
}
