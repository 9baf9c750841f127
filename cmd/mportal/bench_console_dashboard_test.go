package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
)

// dashboardUsers is how many employees the dashboard benchmark seeds.
const dashboardUsers = 10_000

// navTiming reads Chromium's navigation timing of the page once its load event has ended, and
// the bytes transferred for the page and every resource it loaded.
const navTiming = `new Promise(done => { const f = () => {
  const n = performance.getEntriesByType('navigation')[0];
  if (!n || n.loadEventEnd === 0) { setTimeout(f, 5); return; }
  const rs = performance.getEntriesByType('resource');
  done({transfer: n.transferSize + rs.reduce((a, r) => a + r.transferSize, 0), html: n.encodedBodySize,
    server: n.responseStart - n.requestStart, interactive: n.domInteractive, load: n.loadEventEnd});
}; f(); })`

type navTimes struct {
	Transfer, HTML, Server, Interactive, Load float64
}

// BenchmarkConsoleDashboard measures the console's dashboard in a real Chromium on loopback
// with 10,000 users' data: 10,000 employees imported through the directory, each with app
// events on 6 of the last 30 days through the analytics service (on three builds of one app),
// and 2,000 open feedback items pushed through sync. Each iteration navigates to /console/ and
// reports Chromium's navigation timing (domInteractive and loadEventEnd, from the start of the
// navigation, and the server's time to first byte) and the bytes transferred; cold-transfer-B
// is the first visit's, with the stylesheets not yet cached.
//
//	GOTESTFLAGS='-benchtime=10x' bash deploy/dev/test.sh --bench -bench BenchmarkConsoleDashboard ./cmd/mportal/
func BenchmarkConsoleDashboard(b *testing.B) {
	m := benchMain(b, &auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1})
	benchUser(b, m, "BADMIN", "bench-admin", auth.RoleAdmin)
	employee := benchUser(b, m, "BEMP", "bench-phone", auth.RoleEmployee)
	seedDashboard(b, m)
	seedFeedback(b, &benchServer{base: "http://" + m.Addr(), token: employee}, "dash", 2_000)

	tab := benchBrowser(b)
	base := "http://" + m.Addr()
	if err := chromedp.Run(tab, chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(`#login`),
		chromedp.SendKeys(`#login`, "BADMIN"), chromedp.SendKeys(`#password`, benchPassword),
		chromedp.Click(`form.login button[type="submit"]`), chromedp.WaitVisible(`#dau`)); err != nil {
		b.Fatalf("sign in to the console: %v", err)
	}
	var cold navTimes
	if err := chromedp.Run(tab, chromedp.Evaluate(navTiming, &cold, awaitPromise)); err != nil {
		b.Fatal(err)
	}
	var dau string
	if err := chromedp.Run(tab, chromedp.Text(`#dau`, &dau, chromedp.ByQuery)); err != nil || dau == "0" {
		b.Fatalf("the dashboard shows DAU %q (%v)", dau, err)
	}

	var sum navTimes
	b.ResetTimer()
	for range b.N {
		var t navTimes
		if err := chromedp.Run(tab, chromedp.Navigate(base+"/console/"), chromedp.Evaluate(navTiming, &t, awaitPromise)); err != nil {
			b.Fatal(err)
		}
		sum.Transfer += t.Transfer
		sum.HTML += t.HTML
		sum.Server += t.Server
		sum.Interactive += t.Interactive
		sum.Load += t.Load
	}
	n := float64(b.N)
	b.ReportMetric(cold.Transfer, "cold-transfer-B")
	b.ReportMetric(sum.Transfer/n, "transfer-B")
	b.ReportMetric(sum.HTML/n, "html-B")
	b.ReportMetric(sum.Server/n, "server-ms")
	b.ReportMetric(sum.Interactive/n, "domInteractive-ms")
	b.ReportMetric(sum.Load/n, "loadEventEnd-ms")
}

// seedDashboard imports dashboardUsers employees and sends each one's app events on 6 of the
// last 30 days, through the directory and analytics services.
func seedDashboard(b *testing.B, m *Main) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	admin := &auth.Principal{UserID: "bench-admin", Roles: []auth.Role{auth.RoleEmployee, auth.RoleOps, auth.RoleAdmin}}
	if _, err := m.releases.CreateApp(ctx, admin, release.AppInput{ID: "portal", Name: "Portal", AndroidPackage: "com.example.portal"}); err != nil {
		b.Fatal(err)
	}
	var file bytes.Buffer
	file.WriteString("employee_no,name,department\n")
	nos := make([]string, dashboardUsers)
	for i := range nos {
		nos[i] = fmt.Sprintf("D%05d", i)
		fmt.Fprintf(&file, "%s,Employee %d,Dept %d\n", nos[i], i, i%40)
	}
	res, err := m.users.ImportAsSystem(ctx, &file)
	if err != nil || res.Created != dashboardUsers {
		b.Fatalf("import %d users: %+v, %v", dashboardUsers, res, err)
	}
	// The events' user ids are synthetic: the analytics service keeps only a keyed pseudonym of
	// them and the dashboard joins nothing to the directory (looking 10,000 employee numbers up
	// in one query is slow on the embedded database and not what is measured here).
	fmt.Fprintf(os.Stderr, "%s dashboard bench: %d users imported; sending their events\n", time.Now().Format(time.TimeOnly), dashboardUsers)
	now := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	var failed sync.Once
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				p := &auth.Principal{UserID: "bench-user-" + nos[i], DeviceID: "phone-" + nos[i], Department: fmt.Sprintf("Dept %d", i%40),
					Roles: []auth.Role{auth.RoleEmployee}}
				var events []analytics.Event
				for d := range 6 {
					day := (i + d*5) % 29 // 6 of the last 29 days, spread over the users
					events = append(events, analytics.Event{ID: fmt.Sprintf("e%d", d), Name: "app_start",
						At: now.AddDate(0, 0, -day).Add(-time.Minute).UnixMilli()})
				}
				build := []string{"118", "120", "121"}[i%3]
				if i%2000 == 0 {
					fmt.Fprintf(os.Stderr, "%s dashboard bench: events of user %d\n", time.Now().Format(time.TimeOnly), i)
				}
				if _, err := m.analytics.Ingest(ctx, p, analytics.Batch{App: "portal", Build: build, Platform: "android",
					ClientTime: now.UnixMilli(), Events: events}); err != nil {
					failed.Do(func() { b.Errorf("ingest %s: %v", nos[i], err) })
				}
			}
		}()
	}
	for i := range nos {
		work <- i
	}
	close(work)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// awaitPromise makes chromedp.Evaluate wait for the promise the script returns.
func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// benchBrowser starts a headless Chromium for a benchmark (the tests' browser helper takes a
// *testing.T).
func benchBrowser(b *testing.B) context.Context {
	b.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		b.Fatalf("the dashboard benchmark needs Chromium at %s: %v", chromiumPath, err)
	}
	profile, err := os.MkdirTemp("", "mportal-chromium-")
	if err != nil {
		b.Fatal(err)
	}
	bounded, cancelBound := context.WithTimeout(context.Background(), 10*time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(bounded, chromedp.ExecPath(chromiumPath), chromedp.Flag("headless", true),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.UserDataDir(profile))
	tab, cancelTab := chromedp.NewContext(alloc)
	b.Cleanup(func() {
		_ = chromedp.Cancel(tab)
		cancelTab()
		cancelAlloc()
		cancelBound()
		_ = os.RemoveAll(profile)
	})
	if err := chromedp.Run(tab); err != nil {
		b.Fatalf("start Chromium: %v", err)
	}
	return tab
}
