package updates

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
)

// TestDailyOnceRecordsTheFirstCheckOfADay: the update check records one usage event per device,
// app, build and offer per day, whatever the number of checks.
func TestDailyOnceRecordsTheFirstCheckOfADay(t *testing.T) {
	var d dailyOnce
	check90 := dailyCheck{userID: "u", deviceID: "d", appID: "app", platform: release.Android, build: 90, offer: rollout.Optional}
	if !d.first(100, check90) {
		t.Fatal("the day's first check was not recorded")
	}
	for i := 0; i < 5; i++ {
		if d.first(100, check90) {
			t.Fatal("a repeated check on the same day was recorded")
		}
	}
	if !d.first(100, dailyCheck{userID: "u", deviceID: "d", appID: "app", platform: release.Android, build: 100, offer: rollout.None}) {
		t.Fatal("a new build (or offer) the same day was not recorded")
	}
	if !d.first(101, check90) {
		t.Fatal("the next day's first check was not recorded")
	}
	for i := range 3 * maxUserKeys { // one user on many devices: the keys past the slice's too
		k := dailyCheck{userID: "shared", deviceID: fmt.Sprint("d", i), build: 90}
		if !d.first(101, k) || d.first(101, k) {
			t.Fatalf("device %d of one user: not recorded once", i)
		}
	}
	for i := 0; i < maxDailyKeys+10; i++ { // bounded: the set starts over when full
		d.first(101, dailyCheck{userID: fmt.Sprint(i)})
	}
	if n := d.cur.Load().n; n > maxDailyKeys {
		t.Fatalf("%d keys held, more than %d", n, maxDailyKeys)
	}
}

// TestDailyOnceConcurrently: checks of the same keys at once record each key once (run with
// -race: keys are added while others are read).
func TestDailyOnceConcurrently(t *testing.T) {
	var d dailyOnce
	var recorded atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				// 4 users with 25 keys each (more than a slice holds): a user's keys are added
				// while others read them.
				if d.first(100, dailyCheck{userID: fmt.Sprint(i % 4), build: int64(i % 100)}) {
					recorded.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := recorded.Load(); n != 100 {
		t.Fatalf("%d first checks recorded, want 100", n)
	}
}
