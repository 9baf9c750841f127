package mongodb

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWriteGateLetsOneWriteInAtATime(t *testing.T) {
	g := newWriteGate()
	// Never bypassed here: a holder descheduled for gateWait on a loaded machine would let a
	// waiter in beside it, by design, and that is not what this test is about.
	g.wait = time.Hour
	var in, most atomic.Int32
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 50 {
				k := gateKey{conn: fmt.Sprintf("conn-%d", w), req: int64(i)}
				g.enter(k)
				n := in.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				in.Add(-1)
				g.leave(k)
				g.leave(k) // a second finished event for the same command releases nothing
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("at most %d writes were in the gate at once, want 1", most.Load())
	}
	if len(g.sem) != 0 || len(g.holders) != 0 {
		t.Errorf("gate still held: %d in the semaphore, holders %v", len(g.sem), g.holders)
	}
}
