package analytics

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// BenchmarkYear generates a year of rollups for 20,000 users (about 45% active on a weekday,
// 20 departments, 3 roles, 2 platforms, a new build every 3 weeks adopted over ~10 days),
// stores it as one fragment per day, loads it the way Start does, and measures 365-day
// queries: DAU/WAU/MAU for everyone and for a department, adoption per build, top screens.
// It reports each query's p50 and p99 and the process's RSS after loading.
func BenchmarkYear(b *testing.B) {
	const users, depts = 20_000, 20
	first := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := testenv.NewClock(first.AddDate(1, 0, 0))
	db := testenv.Mongo(b)
	s := &Service{DB: db, Key: []byte("0123456789abcdef0123456789abcdef"), Now: c.Now}
	s.init()
	rng := rand.New(rand.NewPCG(1, 2))
	started := time.Now()
	for d := range 365 {
		at := first.AddDate(0, 0, d)
		rate := 0.45
		if wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday {
			rate = 0.08
		}
		newest := d / 21 // the build released on day 21*k
		dims := map[string]*agg{}
		get := func(k string) *agg {
			if dims[k] == nil {
				dims[k] = newAgg()
			}
			return dims[k]
		}
		for u := range uint32(users) {
			if rng.Float64() >= rate {
				continue
			}
			build := newest
			if since := d - newest*21; newest > 0 && rng.IntN(10) >= since { // adopting over ~10 days
				build = newest - 1
			}
			dev := u // one phone each
			for _, k := range []string{"all", "app:portal", fmt.Sprintf("build:portal/%d", build), []string{"platform:android", "platform:ios"}[u%2]} {
				a := get(k)
				a.users.Add(u)
				a.devices.Add(dev)
				a.events += 10
			}
			for _, k := range []string{fmt.Sprintf("dept:D%02d", u%depts), []string{"role:employee", "role:ops", "role:admin"}[min(int(u%50), 2)]} {
				get(k).users.Add(u)
			}
			for sc := range rng.IntN(4) {
				a := get(fmt.Sprintf("screen:s%d", sc*7+rng.IntN(7)))
				a.users.Add(u)
				a.events++
			}
		}
		f := &fragment{ID: bson.NewObjectID(), Created: at, Days: []fragDay{{Day: dayOf(at)}}}
		for k, a := range dims {
			f.Days[0].Dims = append(f.Days[0].Dims, fragDim{Key: k, Users: mustBytes(a.users), Devices: mustBytes(a.devices), Events: a.events})
		}
		if _, err := s.fragments().InsertOne(b.Context(), f); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("generated and stored a year in %s", time.Since(started).Round(time.Millisecond))
	started = time.Now()
	s.rollups = newRollups()
	if err := s.Reload(b.Context()); err != nil {
		b.Fatal(err)
	}
	load := time.Since(started)
	runtime.GC()
	ops := &auth.Principal{UserID: "ops", Roles: []auth.Role{auth.RoleOps}}
	year := Range{From: "2030-01-01", To: "2030-12-31"}
	queries := []struct {
		name string
		run  func() error
	}{
		{"active-users", func() error { _, err := s.ActiveUsers(ops, year, "", ""); return err }},
		{"active-users-dept", func() error { _, err := s.ActiveUsers(ops, year, "department", "D07"); return err }},
		{"breakdown-dept", func() error { _, err := s.BreakdownBy(ops, year, "department"); return err }},
		{"adoption", func() error { _, err := s.Adoption(ops, "portal", year); return err }},
		{"screens", func() error { _, err := s.Screens(ops, year, 10); return err }},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			var took []time.Duration
			for range max(b.N, 100) {
				t0 := time.Now()
				if err := q.run(); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
	a, _ := s.ActiveUsers(ops, year, "", "")
	b.Logf("year: %d distinct users, load %s, RSS %d MiB, %d bitmaps", a.Users, load.Round(time.Millisecond), rssMiB(), countBitmaps(s))
	b.ReportMetric(float64(rssMiB()), "rss-MiB")
	b.ReportMetric(float64(load.Milliseconds()), "load-ms")
}

func countBitmaps(s *Service) int {
	n := 0
	for _, dims := range s.rollups.days {
		n += len(dims)
	}
	return n
}

// rssMiB is this process's resident set size (Linux), 0 elsewhere.
func rssMiB() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb / 1024
		}
	}
	return 0
}
