package auth

import (
	"strconv"
	"sync"
	"testing"
)

// TestReadMostlyCountsEntries: len follows stores, overwrites and deletes, including deletes made
// while ranging, and readers running alongside writers see whole values (run with -race).
func TestReadMostlyCountsEntries(t *testing.T) {
	var r readMostly[cachedSession]
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if e, ok := r.load("k3"); ok && e.userID != "u3" && e.userID != "v3" {
				t.Errorf("read a value never stored: %+v", *e)
				return
			}
		}
	}()
	r.mu.Lock()
	for i := range 10 {
		r.storeLocked("k"+strconv.Itoa(i), &cachedSession{userID: "u" + strconv.Itoa(i)})
	}
	r.storeLocked("k3", &cachedSession{userID: "v3"}) // an overwrite adds nothing
	if n := r.len(); n != 10 {
		t.Fatalf("len = %d after 10 keys, want 10", n)
	}
	r.deleteLocked("k0")
	r.deleteLocked("k0") // a missing key removes nothing
	r.rangeLocked(func(k string, e *cachedSession) bool {
		if k != "k3" {
			r.deleteLocked(k)
		}
		return true
	})
	r.mu.Unlock()
	close(stop)
	wg.Wait()
	if n := r.len(); n != 1 {
		t.Fatalf("len = %d after deleting all but k3, want 1", n)
	}
	if e, ok := r.load("k3"); !ok || e.userID != "v3" {
		t.Fatalf("k3 = %+v, %v; want the overwrite", e, ok)
	}
}
