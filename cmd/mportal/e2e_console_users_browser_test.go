package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mportal/mportal/internal/testenv"
)

// TestConsoleUsersInABrowser goes through the dashboard and the admins' user screens in
// Chromium: the dashboard's charts against the API's numbers, a CSV import with bad rows (the
// per-row results, then the API's list), a user's page and a password reset, at laptop width
// in English and phone width in Chinese; ops are refused the users screens.
func TestConsoleUsersInABrowser(t *testing.T) {
	start := time.Date(2030, 5, 6, 9, 0, 0, 0, time.UTC)
	clock := testenv.NewClock(start)
	ts := startServer(t, testEnv(t, nil), func(m *Main) { m.Clock = clock.Now })
	admin := ts.adminToken()
	ops := ts.newOps(admin, "OPS1")
	ts.createApp(ops, "portal")
	ts.publishAPK(ops, "portal", 100, "stable", 20)
	// Three employees use the app today, on two builds.
	for i, build := range []string{"99", "100", "100"} {
		_, token := ts.newEmployee(admin, fmt.Sprintf("A800%d", i), "Sales")
		ts.must(ts.call("POST", "/v1/events", token, map[string]any{"app": "portal", "build": build, "platform": "android",
			"client_time": start.UnixMilli(), "events": []map[string]any{{"id": "s1", "name": "app_start", "at": start.UnixMilli() - 60_000}}}), 200)
	}
	cb := newConsoleBrowser(t, ts, 1280, 900, false, "en-US,en;q=0.9")
	csvPath := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(csvPath, []byte("employee_no,name,email,department,roles\n"+
		"B9001,Bo One,bo1@example.com,Sales,\n"+
		"B9002,,bo2@example.com,Sales,\n"+ // no name
		"B9003,Bo Three,bo3@example.com,IT,approver\n"+
		"B9004,Bo Four,not-an-email,IT,\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("an admin on a laptop, in English", func(t *testing.T) {
		cb.signIn(t, "admin", "admin-passphrase-1")
		s := cb.look(t, "laptop-en-dashboard-full")
		var au struct{ Days []struct{ DAU, MAU int } }
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/metrics/active-users?from=2030-05-06&to=2030-05-06", ops, nil), 200).json(t, &au)
		var dau string
		cb.run(t, "read the DAU", chromedp.Text(`#dau`, &dau, chromedp.ByQuery))
		if len(au.Days) != 1 || dau != fmt.Sprint(au.Days[0].DAU) || au.Days[0].DAU < 3 {
			t.Errorf("the dashboard's DAU %q, the API's %+v", dau, au.Days)
		}
		for _, want := range []string{"Adoption per build", "portal 100", "67%", "portal android/stable 100", "20%", "Rollouts in progress", "Feedback backlog by age"} {
			if !strings.Contains(s.Text, want) && !strings.Contains(s.Text, strings.ToUpper(want)) {
				t.Errorf("the dashboard lacks %q:\n%s", want, s.Text)
			}
		}
		var charts int
		cb.run(t, "count the charts", chromedp.Evaluate(`document.querySelectorAll('svg.chart[role=img]').length`, &charts))
		if charts < 3 {
			t.Errorf("%d charts on the dashboard", charts)
		}

		cb.run(t, "open the users", chromedp.Click(`a[href="/console/users"]`), chromedp.WaitVisible(`#import-file`))
		cb.look(t, "laptop-en-users-forms")
		cb.run(t, "import the CSV", chromedp.SetUploadFiles(`#import-file`, []string{csvPath}, chromedp.ByQuery),
			chromedp.Click(`#import-users button`), chromedp.WaitVisible(`#import-rows`))
		s = cb.look(t, "laptop-en-users-import")
		var rows []string
		cb.run(t, "read the rows", chromedp.Evaluate(`[...document.querySelectorAll('#import-rows tbody tr')].map(r => r.className + ' ' + r.innerText.replace(/\s+/g, ' '))`, &rows))
		want := []*regexp.Regexp{regexp.MustCompile(`^row-created 2 B9001 created`), regexp.MustCompile(`^row-error 3 B9002 error name`),
			regexp.MustCompile(`^row-created 4 B9003 created`), regexp.MustCompile(`^row-error 5 B9004 error email`)}
		if len(rows) != len(want) {
			t.Fatalf("rows: %q", rows)
		}
		for i, w := range want {
			if !w.MatchString(rows[i]) {
				t.Errorf("row %d reads %q, want %s", i, rows[i], w)
			}
		}
		if got := ts.with(t).listedUsers(admin, "B900"); strings.Join(got, ",") != "B9001,B9003" {
			t.Errorf("the API lists %v after the browser's import", got)
		}

		cb.run(t, "find B9003", chromedp.Navigate(ts.base+"/console/users?q=B9003"), chromedp.WaitVisible(`main table a`),
			chromedp.Click(`main table a`), chromedp.WaitVisible(`#user-roles`))
		cb.look(t, "laptop-en-user")
		cb.run(t, "make B9003 ops", chromedp.Click(`#role-ops`), chromedp.Click(`#user-roles button`),
			chromedp.WaitVisible(`#role-ops:checked`, chromedp.ByQuery))
		// The click checks the box at once; the form's post may still be on its way.
		var page struct{ Items []adminUser }
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			ts.with(t).must(ts.with(t).call("GET", "/v1/admin/users?q=B9003", admin, nil), 200).json(t, &page)
			if len(page.Items) == 1 && strings.Join(page.Items[0].Roles, ",") == "employee,approver,ops" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("the API's B9003 after the console's roles: %+v", page.Items)
				break
			}
		}
		cb.run(t, "reset B9003's password", chromedp.Click(`#user-reset button`), chromedp.WaitVisible(`#one-time-password`))
		cb.look(t, "laptop-en-user-password")
		var otp string
		cb.run(t, "read the password", chromedp.Text(`#one-time-password`, &otp, chromedp.ByQuery))
		ts.with(t).signIn("B9003", strings.TrimSpace(otp), "B9003-passphrase", "B9003-phone")
		cb.signOutFromHome(t)
	})

	t.Run("an admin on a phone, in Chinese", func(t *testing.T) {
		cb.view(t, 390, 844, true, "zh-CN,zh;q=0.9")
		cb.signIn(t, "admin", "admin-passphrase-1")
		if s := cb.look(t, "phone-zh-dashboard-full"); s.Lang != "zh-CN" || !strings.Contains(s.Text, "各构建的采用率") {
			t.Errorf("the dashboard (lang %q) reads:\n%s", s.Lang, s.Text)
		}
		cb.run(t, "open the users", chromedp.Navigate(ts.base+"/console/users"), chromedp.WaitVisible(`#import-file`))
		cb.look(t, "phone-zh-users-forms")
		cb.run(t, "import the CSV again", chromedp.SetUploadFiles(`#import-file`, []string{csvPath}, chromedp.ByQuery),
			chromedp.Click(`#import-users button`), chromedp.WaitVisible(`#import-rows`))
		if s := cb.look(t, "phone-zh-users-import"); !strings.Contains(s.Text, "未变化") {
			t.Errorf("the second import reads:\n%s", s.Text)
		}
		cb.signOutFromHome(t)
	})

	t.Run("ops cannot manage users", func(t *testing.T) {
		cb.signIn(t, "OPS1", "OPS1-passphrase")
		cb.look(t, "phone-zh-ops-dashboard-full")
		cb.run(t, "open the users screen", chromedp.Navigate(ts.base+"/console/users"), chromedp.WaitVisible(`main h1`))
		if s := cb.look(t, "phone-zh-ops-users-denied"); !strings.Contains(s.Text, "无权访问") || strings.Contains(s.Text, "CSV") {
			t.Errorf("ops opened the users screen:\n%s", s.Text)
		}
		cb.signOutFromHome(t)
	})

	cb.cspViolations(t)
}
