package main

import (
	"context"
	"testing"
	"time"
)

// TestHourlyWorkRunsSoonAfterStart: the hourly maintenance (purges, clean-ups) used to run first
// an hour after start, so a deployment restarted more often than that never purged anything.
func TestHourlyWorkRunsSoonAfterStart(t *testing.T) {
	for range 100 {
		if d := maintenanceStart(); d < time.Minute || d >= 6*time.Minute {
			t.Fatalf("maintenance starts after %v, want within [1m, 6m)", d)
		}
	}
	defer func(f func() time.Duration) { firstMaintenance = f }(firstMaintenance)
	firstMaintenance = func() time.Duration { return time.Millisecond }
	w := newWorkers()
	ran := make(chan struct{}, 3)
	w.hourly(func(context.Context) { ran <- struct{}{} })
	select {
	case <-ran:
	case <-time.After(30 * time.Second):
		t.Fatal("the first run did not come after its first delay")
	}
	w.stop()
	if len(ran) != 0 {
		t.Fatal("ran again before its interval")
	}
}
