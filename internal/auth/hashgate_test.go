package auth

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

func TestHashSlots(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	t.Run("default cost: one slot per CPU, within the memory budget", func(t *testing.T) {
		want := min(procs, HashMemoryBudget/(int(DefaultArgon2.MemoryKiB)<<10))
		if got := hashSlots(DefaultArgon2); got != want || got < 1 {
			t.Fatalf("hashSlots = %d, want %d", got, want)
		}
	})
	t.Run("a cost over the budget still gets one slot", func(t *testing.T) {
		if got := hashSlots(Argon2Params{MemoryKiB: 1 << 20, Time: 1, Threads: 1}); got != 1 {
			t.Fatalf("hashSlots = %d, want 1", got)
		}
	})
}

// TestLoginWaitsThenTurnsAway holds the only argon2 slot: one login waits for it in the queue,
// the next is turned away at once with 503 material (unavailable, Retry-After), and the waiting
// one completes as soon as the slot is free.
func TestLoginWaitsThenTurnsAway(t *testing.T) {
	f := newFixture(t)
	f.s.HashConcurrency, f.s.HashQueue = 1, 1
	g := f.s.gate()
	release, err := g.enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	login := func(ctx context.Context, device string) error {
		_, err := f.s.Login(ctx, LoginInput{Login: "E1001", Password: alicePassword, DeviceID: device, IP: "10.0.0.1"})
		return err
	}
	waited := make(chan error, 1)
	go func() { waited <- login(context.Background(), "phone-1") }()
	eventually(t, func() bool { return g.waiting.Load() == 1 })

	t.Run("turns away a login beyond the queue", func(t *testing.T) {
		e := wantCode(t, login(context.Background(), "phone-2"), apperr.Unavailable)
		if e.RetryAfter <= 0 {
			t.Fatalf("RetryAfter = %v", e.RetryAfter)
		}
	})
	t.Run("the queued login proceeds when the slot frees", func(t *testing.T) {
		release()
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a waiting login gives up when its request ends", func(t *testing.T) {
		release, err := g.enter(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- login(ctx, "phone-3") }()
		eventually(t, func() bool { return g.waiting.Load() == 1 })
		cancel()
		wantCode(t, <-done, apperr.Unavailable)
		if n := g.waiting.Load(); n != 0 {
			t.Fatalf("%d still waiting", n)
		}
	})
	t.Run("a password change waits for the same slots", func(t *testing.T) {
		p := mustAuthenticate(t, f.s, f.login(t, "E1001", alicePassword, "phone-4").AccessToken)
		release, err := g.enter(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- f.s.ChangePassword(context.Background(), p, alicePassword, "alice-secret-2") }()
		eventually(t, func() bool { return g.waiting.Load() == 1 })
		wantCode(t, login(context.Background(), "phone-5"), apperr.Unavailable)
		release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestConcurrentLoginsShareBoundedSlots: many concurrent logins through two slots all succeed
// when the queue holds them, and none runs outside a slot (checked by the race detector and by
// the slot count never exceeding its capacity).
func TestConcurrentLoginsShareBoundedSlots(t *testing.T) {
	f := newFixture(t)
	f.s.Throttle = nil
	f.s.HashConcurrency, f.s.HashQueue = 2, 64
	const n = 48
	var wg sync.WaitGroup
	errs := make(chan error, n)
	stop := make(chan struct{})
	peak := make(chan int, 1)
	go func() { // samples the slots in use; the channel's capacity is the hard bound
		most := 0
		for {
			select {
			case <-stop:
				peak <- most
				return
			default:
				most = max(most, len(f.s.gate().slots))
				runtime.Gosched()
			}
		}
	}()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.s.Login(context.Background(), LoginInput{Login: "E1001", Password: alicePassword,
				DeviceID: fmt.Sprintf("device-%d", i), IP: "10.0.0.1"})
			errs <- err
		}()
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := <-peak; got > 2 {
		t.Fatalf("%d argon2 computations at once, want at most 2", got)
	}
	if got := cap(f.s.gate().slots); got != 2 {
		t.Fatalf("gate has %d slots, want 2", got)
	}
}

// eventually polls cond; for states another goroutine reaches, never for timing claims.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 30 s")
		}
		time.Sleep(time.Millisecond)
	}
}
