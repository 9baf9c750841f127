package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/push"
)

// TestDeviceReadsAreShared checks deviceReader: reads that arrive while one is in flight share
// the next query, each caller gets exactly its own users' devices, and a caller that gives up
// does not fail the others.
func TestDeviceReadsAreShared(t *testing.T) {
	f := newRecipientFixture(t)
	for i := range 12 {
		p := f.user(t, fmt.Sprintf("u%02d", i), "Sales", StatusActive, auth.RoleEmployee)
		for d := range 2 {
			f.device(t, p, fmt.Sprintf("d%d", d), "stable", fmt.Sprintf("tok-%02d-%d", i, d), true)
		}
	}
	r := &deviceReader{db: f.db}
	first, release := make(chan struct{}), make(chan struct{})
	var served []int
	r.beforeGo = func(n int) {
		served = append(served, n) // the reader's goroutine only
		if len(served) == 1 {
			close(first)
			<-release
		}
	}
	keys := func(devs []recipientDevice) []string {
		var out []string
		for _, d := range devs {
			out = append(out, d.Key)
		}
		slices.Sort(out)
		return out
	}
	want := func(users ...string) []string {
		var out []string
		for _, u := range users {
			out = append(out, u+"/d0", u+"/d1")
		}
		return out
	}

	var wg sync.WaitGroup
	got := make([][]string, 11)
	errs := make([]error, 11)
	wg.Go(func() {
		devs, err := r.read(f.ctx, map[string]bool{"u00": false})
		got[0], errs[0] = keys(devs), err
	})
	<-first // the first query is in flight (held by the hook)
	for i := 1; i <= 9; i++ {
		wg.Go(func() {
			users := map[string]bool{fmt.Sprintf("u%02d", i): false, fmt.Sprintf("u%02d", i+1): false}
			devs, err := r.read(f.ctx, users)
			got[i], errs[i] = keys(devs), err
		})
	}
	gaveUp, cancel := context.WithCancel(f.ctx)
	gaveUpErr := make(chan error, 1)
	go func() {
		_, err := r.read(gaveUp, map[string]bool{"u11": false})
		gaveUpErr <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.pending)
		r.mu.Unlock()
		if n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reads pending, want 10", n)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-gaveUpErr; !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that gave up got %v", err)
	}
	close(release)
	wg.Wait()

	if !slices.Equal(got[0], want("u00")) || errs[0] != nil {
		t.Errorf("first caller: %v %v", got[0], errs[0])
	}
	for i := 1; i <= 9; i++ {
		if w := want(fmt.Sprintf("u%02d", i), fmt.Sprintf("u%02d", i+1)); !slices.Equal(got[i], w) || errs[i] != nil {
			t.Errorf("caller %d: %v %v, want %v", i, got[i], errs[i], w)
		}
	}
	// The callers are answered before the reader's loop looks for more work and stops: wait
	// for it (a CI run looked in between).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		reading := r.reading
		r.mu.Unlock()
		if !reading || time.Now().After(deadline) {
			break
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.queries != 2 || !slices.Equal(served, []int{1, 10}) || r.reading {
		t.Errorf("%d queries serving %v callers (reading %v), want 2 serving [1 10] and done", r.queries, served, r.reading)
	}
}

// TestNamedUsersStreamThroughTheSharedReader checks that a fan-out to named users on FerretDB
// goes through the shared reader and still yields exactly their pushable devices.
func TestNamedUsersStreamThroughTheSharedReader(t *testing.T) {
	f := newRecipientFixture(t)
	if !f.db.FerretDB {
		t.Fatal("the test database is not FerretDB: this test covers its path")
	}
	for i := range 3 {
		p := f.user(t, fmt.Sprintf("n%d", i), "Ops", StatusActive, auth.RoleEmployee)
		f.device(t, p, "phone", "stable", fmt.Sprintf("ntok-%d", i), i != 1)
	}
	r := readerFor(f.db)
	r.mu.Lock()
	before := r.queries
	r.mu.Unlock()
	got, _, _ := f.stream(t, push.Audience{UserIDs: []string{"n0", "n1", "n2", "nobody"}}, "")
	if want := []string{"n0/phone", "n1", "n2/phone"}; !slices.Equal(got, want) {
		t.Errorf("streamed %v, want %v (n1's device has push off: a user-only entry)", got, want)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.queries != before+1 {
		t.Errorf("%d shared queries, want 1", r.queries-before)
	}
}

// TestUserChannelsThroughTheSharedReader checks the channels of a user's devices on FerretDB,
// read through the shared reader: each channel once, none of another user's.
func TestUserChannelsThroughTheSharedReader(t *testing.T) {
	f := newRecipientFixture(t)
	p := f.user(t, "ch-a", "Ops", StatusActive, auth.RoleEmployee)
	f.device(t, p, "phone", "beta", "cha-1", true)
	f.device(t, p, "tablet", "stable", "cha-2", false)
	f.device(t, p, "old", "beta", "cha-3", true)
	other := f.user(t, "ch-b", "Ops", StatusActive, auth.RoleEmployee)
	f.device(t, other, "phone", "alpha", "chb-1", true)
	got, err := f.recipients.UserChannels(f.ctx, "ch-a")
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"beta", "stable"}) {
		t.Errorf("channels %v, %v; want [beta stable]", got, err)
	}
	if got, err := f.recipients.UserChannels(f.ctx, "nobody"); err != nil || len(got) != 0 {
		t.Errorf("channels of a user without devices: %v, %v", got, err)
	}
}
