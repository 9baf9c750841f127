package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/testenv"
)

func TestAnalytics(t *testing.T) {
	start := time.Date(2030, 5, 6, 9, 0, 0, 0, time.UTC)
	clock := testenv.NewClock(start)
	ts := startServer(t, testEnv(t, nil), func(m *Main) { m.Clock = clock.Now })
	who := ts.staff()
	now := start.UnixMilli()
	batch := func(events ...map[string]any) map[string]any {
		return map[string]any{"app": "portal", "build": "42", "platform": "android", "client_time": now, "events": events}
	}
	ev := func(id, name, screen string) map[string]any {
		return map[string]any{"id": id, "name": name, "screen": screen, "at": now - 60_000}
	}
	var res struct {
		Accepted, Duplicates int
		Rejected             []struct {
			Index int
			Field string
		}
	}

	t.Run("an app sends its events; a bad one is rejected alone and a replay counts once", func(t *testing.T) {
		ts := ts.with(t)
		b := batch(ev("e1", "app_start", "home"), ev("e2", "screen_view", "home"), ev("e3", "screen_view", ""))
		ts.must(ts.call("POST", "/v1/events", who.zh, b), 200).json(t, &res)
		if res.Accepted != 2 || len(res.Rejected) != 1 || res.Rejected[0].Field != "events[2].screen" {
			t.Fatalf("first send = %+v", res)
		}
		ts.must(ts.call("POST", "/v1/events", who.zh, b), 200).json(t, &res)
		if res.Accepted != 0 || res.Duplicates != 2 {
			t.Fatalf("replay = %+v", res)
		}
		ts.must(ts.call("POST", "/v1/events", who.en, batch(ev("e1", "screen_view", "settings"))), 200)
	})

	t.Run("events are always the caller's: a body cannot name a user", func(t *testing.T) {
		ts := ts.with(t)
		b := batch(ev("x1", "screen_view", "home"))
		b["user_id"] = "someone-else"
		if r := ts.call("POST", "/v1/events", who.zh, b, offContract); r.status != 400 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if r := ts.call("POST", "/v1/events", "", batch(ev("x2", "screen_view", "home"))); r.status != 401 {
			t.Fatalf("unauthenticated status %d", r.status)
		}
		if r := ts.call("POST", "/v1/events", who.zh, map[string]any{"app": "portal", "build": "42", "platform": "android", "client_time": 5, "events": []any{ev("x3", "tap", "")}}); r.status != 400 || r.problemCode() != "invalid" {
			t.Fatalf("bad client_time: %d %s", r.status, r.body)
		}
	})

	day := "2030-05-06"
	q := "?from=" + day + "&to=" + day
	android := q + "&dimension=platform&value=android" // the apps' events, not the server's
	t.Run("employees cannot read the numbers", func(t *testing.T) {
		ts := ts.with(t)
		for _, path := range []string{"/v1/ops/metrics/active-users" + q, "/v1/ops/metrics/active-users.csv" + q,
			"/v1/ops/metrics/active-users/breakdown" + q + "&dimension=platform", "/v1/ops/metrics/screens" + q,
			"/v1/ops/metrics/adoption" + q + "&app=portal"} {
			if r := ts.call("GET", path, who.zh, nil); r.status != 403 {
				t.Errorf("GET %s by an employee: %d", path, r.status)
			}
		}
	})

	t.Run("ops read active users, screens and adoption", func(t *testing.T) {
		ts := ts.with(t)
		var au struct {
			Users, Devices int
			Days           []struct{ DAU, MAU int }
		}
		ts.must(ts.call("GET", "/v1/ops/metrics/active-users"+android, who.ops, nil), 200).json(t, &au)
		if au.Users != 2 || au.Devices != 2 || len(au.Days) != 1 || au.Days[0].DAU != 2 || au.Days[0].MAU != 2 {
			t.Fatalf("active users = %+v", au)
		}
		r := ts.must(ts.call("GET", "/v1/ops/metrics/active-users.csv"+android, who.ops, nil), 200)
		if !strings.HasPrefix(string(r.body), "day,dau,wau,mau,dau_mau\n2030-05-06,2,2,2,1.0000\n") {
			t.Fatalf("CSV:\n%s", r.body)
		}
		var rows struct {
			Items []struct {
				Value string
				Users int
			}
		}
		ts.must(ts.call("GET", "/v1/ops/metrics/active-users/breakdown"+q+"&dimension=build", who.ops, nil), 200).json(t, &rows)
		if len(rows.Items) != 1 || rows.Items[0].Value != "portal/42" || rows.Items[0].Users != 2 {
			t.Fatalf("breakdown = %+v", rows)
		}
		var screens struct {
			Items []struct {
				Screen                   string
				Views, Visitors, Entries int
			}
		}
		ts.must(ts.call("GET", "/v1/ops/metrics/screens"+q+"&limit=10", who.ops, nil), 200).json(t, &screens)
		if len(screens.Items) != 2 || screens.Items[0].Screen != "home" || screens.Items[0].Entries != 1 || screens.Items[1].Visitors != 1 {
			t.Fatalf("screens = %+v", screens)
		}
		ts.must(ts.call("GET", "/v1/ops/metrics/screens"+q+"&screen=home", who.ops, nil), 200)
		var adoption struct {
			Days []struct {
				Devices int
				Builds  []struct {
					Build string
					Share float64
				}
			}
			Builds []struct {
				Build    string
				DaysTo50 *int `json:"days_to_50"`
			}
		}
		ts.must(ts.call("GET", "/v1/ops/metrics/adoption"+q+"&app=portal", who.ops, nil), 200).json(t, &adoption)
		if len(adoption.Days) != 1 || adoption.Days[0].Devices != 2 || adoption.Days[0].Builds[0].Share != 1 ||
			len(adoption.Builds) != 1 || adoption.Builds[0].DaysTo50 == nil || *adoption.Builds[0].DaysTo50 != 0 {
			t.Fatalf("adoption = %+v", adoption)
		}
	})

	t.Run("the server records sign-ins and check-ins itself", func(t *testing.T) {
		ts := ts.with(t)
		// staff() signed in four users; the recorder writes within a second.
		eventually(t, 10*time.Second, "four signed-in users counted", func() bool {
			var au struct{ Users int }
			ts.must(ts.call("GET", "/v1/ops/metrics/active-users"+q, who.admin, nil), 200).json(t, &au)
			return au.Users == 4
		})
		// The check-in reports the bundle id; it counts under the catalogue's app "portal".
		ts.createApp(who.ops, "portal")
		ts.must(ts.call("PUT", "/v1/devices/en-phone", who.en, device("ios")), 200)
		eventually(t, 10*time.Second, "the check-in's build in the app's adoption", func() bool {
			var adoption struct {
				Days []struct {
					Builds []struct{ Build string }
				}
			}
			ts.must(ts.call("GET", "/v1/ops/metrics/adoption"+q+"&app=portal", who.ops, nil), 200).json(t, &adoption)
			return len(adoption.Days) == 1 && len(adoption.Days[0].Builds) == 2 && adoption.Days[0].Builds[0].Build == "230"
		})
		// The device updates to 231: the build change is an install, once however often the
		// device checks in with it (a retry, two instances); the first check-in was none.
		updated := device("ios")
		updated["build_number"] = 231
		for range 3 {
			ts.must(ts.call("PUT", "/v1/devices/en-phone", who.en, updated), 200)
		}
		eventually(t, 10*time.Second, "one install of build 231", func() bool {
			var adoption struct {
				Days []struct {
					Builds []struct {
						Build    string
						Installs int
					}
				}
			}
			ts.must(ts.call("GET", "/v1/ops/metrics/adoption"+q+"&app=portal", who.ops, nil), 200).json(t, &adoption)
			installs := map[string]int{}
			for _, b := range adoption.Days[0].Builds {
				installs[b.Build] = b.Installs
			}
			return len(installs) == 3 && installs["231"] == 1 && installs["230"] == 0 && installs["42"] == 0
		})
	})

	t.Run("activation: who of the directory has used the app", func(t *testing.T) {
		ts := ts.with(t)
		var act struct {
			Users, Activated int
			Share            float64
			Departments      []struct{ Department string }
		}
		ts.must(ts.call("GET", "/v1/ops/metrics/activation", who.ops, nil), 200).json(t, &act)
		if act.Users != 4 || act.Activated != 4 || act.Share != 1 || len(act.Departments) != 1 {
			t.Fatalf("activation = %+v", act)
		}
		if r := ts.call("GET", "/v1/ops/metrics/activation", who.en, nil); r.status != 403 {
			t.Fatalf("activation by an employee: %d", r.status)
		}
		ts.createUser(who.admin, map[string]any{"employee_no": "E7009", "name": "New", "roles": []string{"employee"}})
		ts.must(ts.call("GET", "/v1/ops/metrics/activation", who.ops, nil), 200).json(t, &act)
		if act.Users != 5 || act.Activated != 4 {
			t.Fatalf("activation with a new account = %+v", act)
		}
	})

	t.Run("bad parameters name the field", func(t *testing.T) {
		ts := ts.with(t)
		for path, field := range map[string]string{
			"/v1/ops/metrics/active-users?from=2030-5-1&to=" + day:             "from",
			"/v1/ops/metrics/active-users?from=2029-01-01&to=" + day:           "to",
			"/v1/ops/metrics/active-users/breakdown" + q + "&dimension=colour": "dimension",
			"/v1/ops/metrics/screens" + q + "&limit=0":                         "limit",
		} {
			r := ts.call("GET", path, who.ops, nil, offContract)
			if r.status != 400 || !strings.Contains(string(r.body), `"`+field+`"`) {
				t.Errorf("GET %s: %d %s", path, r.status, r.body)
			}
		}
	})
}
