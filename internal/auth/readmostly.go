package auth

import (
	"sync"
	"sync/atomic"
)

// readMostly is a map from strings to immutable values that readers use without a lock. The
// authenticated hot path reads its caches on every request from every core; an RWMutex's read
// lock writes its shared counter each time, and two cores taking turns with that cache line cost
// more than the lookup itself. Writers, which are rare (a new token or session, a revocation),
// take mu, so that a read-decide-store of theirs is atomic with respect to each other; readers see
// a value either before or after such a write, never part of one. Values are stored by pointer
// and never modified after they are stored.
type readMostly[V any] struct {
	m  sync.Map // string -> *V
	n  atomic.Int64
	mu sync.Mutex // serializes writers
}

// load returns the value stored for k. k is not retained, so it may be backed by a buffer that
// the caller reuses.
func (r *readMostly[V]) load(k string) (*V, bool) {
	v, ok := r.m.Load(k)
	if !ok {
		return nil, false
	}
	return v.(*V), true
}

// storeLocked stores v for k, which it retains; the caller holds mu.
func (r *readMostly[V]) storeLocked(k string, v *V) {
	if _, loaded := r.m.Swap(k, v); !loaded {
		r.n.Add(1)
	}
}

// deleteLocked deletes k; the caller holds mu.
func (r *readMostly[V]) deleteLocked(k string) {
	if _, loaded := r.m.LoadAndDelete(k); loaded {
		r.n.Add(-1)
	}
}

// rangeLocked calls f for each entry, in no particular order, until f returns false; the caller
// holds mu, and f may delete entries with deleteLocked.
func (r *readMostly[V]) rangeLocked(f func(k string, v *V) bool) {
	r.m.Range(func(k, v any) bool { return f(k.(string), v.(*V)) })
}

// len is the number of entries.
func (r *readMostly[V]) len() int { return int(r.n.Load()) }

// makeRoomLocked is the eviction both caches use when full (len >= limit): it drops the entries
// stale says are no longer worth keeping, then, if that was not enough, arbitrary ones down to
// 7/8 of limit, so that the sweep is not paid on every store. The caller holds mu.
func (r *readMostly[V]) makeRoomLocked(limit int, stale func(*V) bool) {
	if r.len() < limit {
		return
	}
	r.rangeLocked(func(k string, v *V) bool {
		if stale(v) {
			r.deleteLocked(k)
		}
		return true
	})
	r.rangeLocked(func(k string, _ *V) bool {
		if r.len() < limit-limit/8 {
			return false
		}
		r.deleteLocked(k)
		return true
	})
}
