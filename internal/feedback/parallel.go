package feedback

import (
	"cmp"
	"context"
	"hash/fnv"
	"sync"
)

// recordWriters is how many of a push's edits or deletes are written at once. Each is one
// FerretDB update under the record's lock; SQLite commits one at a time, but FerretDB's work
// around each commit (decoding the command, reading and decoding the document, applying the
// update, encoding it) overlaps with another's, and a push no longer waits for each round trip
// in turn. See README.md, "Performance".
const recordWriters = 4

// outcome is what writing one record of a push did: the keys it touched, or why it failed.
type outcome struct {
	keys []string
	err  error
}

// writeEach runs write for each of ids with at most recordWriters at once and returns the
// outcomes in ids' order. The records of one id go to the same writer, in their order, so a
// push that changes a record twice applies its changes as pushed. Once a write fails with an
// error that is not the record's fault (see reject), the records not started yet are skipped
// (their outcome is that error): the push fails and the app sends it again.
func writeEach(ctx context.Context, ids []string, write func(ctx context.Context, i int) ([]string, error)) []outcome {
	out := make([]outcome, len(ids))
	if len(ids) <= 1 {
		for i := range ids {
			out[i].keys, out[i].err = write(ctx, i)
		}
		return out
	}
	lanes := make([][]int, min(recordWriters, len(ids)))
	for i, id := range ids {
		h := fnv.New32a()
		_, _ = h.Write([]byte(id))
		lane := int(h.Sum32() % uint32(len(lanes)))
		lanes[lane] = append(lanes[lane], i)
	}
	// A failure stops the lanes between records, never a write midway (a canceled update may
	// still be applied, and the in-memory copy must see every applied write).
	var mu sync.Mutex
	var failed error
	var wg sync.WaitGroup
	for _, lane := range lanes {
		wg.Go(func() {
			for _, i := range lane {
				mu.Lock()
				stop := failed
				mu.Unlock()
				if stop != nil {
					out[i].err = stop
					continue
				}
				out[i].keys, out[i].err = write(ctx, i)
				if _, notTheRecord := reject(ids[i], nil, out[i].err); out[i].err != nil && notTheRecord != nil {
					mu.Lock()
					failed = cmp.Or(failed, out[i].err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return out
}
