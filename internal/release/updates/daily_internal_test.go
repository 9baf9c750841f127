package updates

import (
	"fmt"
	"testing"
)

// TestDailyOnceRecordsTheFirstCheckOfADay: the update check records one usage event per device,
// app, build and offer per day, whatever the number of checks.
func TestDailyOnceRecordsTheFirstCheckOfADay(t *testing.T) {
	var d dailyOnce
	if !d.first(100, "u|d|app|android|90|optional") {
		t.Fatal("the day's first check was not recorded")
	}
	for i := 0; i < 5; i++ {
		if d.first(100, "u|d|app|android|90|optional") {
			t.Fatal("a repeated check on the same day was recorded")
		}
	}
	if !d.first(100, "u|d|app|android|100|none") {
		t.Fatal("a new build (or offer) the same day was not recorded")
	}
	if !d.first(101, "u|d|app|android|90|optional") {
		t.Fatal("the next day's first check was not recorded")
	}
	for i := 0; i < maxDailyKeys+10; i++ { // bounded: the set starts over when full
		d.first(101, fmt.Sprint(i))
	}
	if len(d.seen) > maxDailyKeys {
		t.Fatalf("%d keys held, more than %d", len(d.seen), maxDailyKeys)
	}
}
