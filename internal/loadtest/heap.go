package loadtest

import (
	"runtime"
	"sync"
	"time"
)

// SampleHeap samples the heap in use every 5 ms until the returned function is called, which
// returns the largest value seen, in bytes. Benchmarks use it to show that a streaming path
// keeps memory flat whatever the size of what streams through it.
func SampleHeap() (stop func() uint64) {
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return sync.OnceValue(func() uint64 { close(done); wg.Wait(); return peak })
}
