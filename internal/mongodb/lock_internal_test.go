package mongodb

import (
	"fmt"
	"hash/fnv"
	"sync"
	"testing"
	"time"
)

func TestKeyedMutex(t *testing.T) {
	t.Run("a holder of one key takes another whose hash collides", func(t *testing.T) {
		// Two keys whose FNV-32a hashes fall in the same of 256 stripes: the old striped
		// mutex deadlocked on this nesting (Users.Update holding a user, revoking a session).
		a, b := collidingKeys(t)
		var k keyedMutex
		done := make(chan struct{})
		go func() {
			defer close(done)
			unlockA := k.lock(a)
			unlockB := k.lock(b)
			unlockB()
			unlockA()
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("nested lock of %q and %q never returned", a, b)
		}
	})
	t.Run("one key is held by one caller at a time and forgotten when free", func(t *testing.T) {
		var k keyedMutex
		var wg sync.WaitGroup
		inside, most := 0, 0
		var mu sync.Mutex
		for range 32 {
			wg.Go(func() {
				unlock := k.lock("user:1")
				mu.Lock()
				inside++
				most = max(most, inside)
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				inside--
				mu.Unlock()
				unlock()
			})
		}
		wg.Wait()
		if most != 1 {
			t.Fatalf("%d callers held one key at once", most)
		}
		if len(k.held) != 0 {
			t.Fatalf("%d keys still remembered after every caller unlocked", len(k.held))
		}
	})
}

func collidingKeys(t *testing.T) (string, string) {
	t.Helper()
	stripe := func(s string) uint32 {
		h := fnv.New32a()
		_, _ = h.Write([]byte(s))
		return h.Sum32() % 256
	}
	a := "user:0"
	for i := 1; i < 100000; i++ {
		b := fmt.Sprintf("session:%d", i)
		if stripe(b) == stripe(a) {
			return a, b
		}
	}
	t.Fatal("no colliding key found")
	return "", ""
}
