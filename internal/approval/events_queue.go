package approval

import "sync"

// maxQueuedEvents bounds the in-memory hand-off; beyond it events wait in the database for the
// worker's next scan.
const maxQueuedEvents = 10_000

// doneRing is how many processed event ids the queue remembers, so that a hint arriving after a
// scan already processed its event (Ingest inserts, then offers) is dropped.
const doneRing = 16_384

// eventQueue hands the events this process accepted to its event worker without a database
// read. It is a hint: the events collection is the durable queue, which the worker scans after
// a restart, when it takes over the lease, when the hand-off overflowed, and periodically (for
// events other replicas accepted).
type eventQueue struct {
	mu       sync.Mutex
	order    []string
	byID     map[string]*Event
	overflow bool
	wake     chan struct{}
	done     map[string]bool
	ring     []string
	next     int
}

func (q *eventQueue) init() {
	if q.byID == nil {
		q.byID, q.done, q.wake = map[string]*Event{}, map[string]bool{}, make(chan struct{}, 1)
	}
}

// offer queues ev unless it is queued or was processed already, and wakes the worker.
func (q *eventQueue) offer(ev *Event) {
	q.mu.Lock()
	q.init()
	switch {
	case q.byID[ev.ID] != nil || q.done[ev.ID]:
	case len(q.order) >= maxQueuedEvents:
		q.overflow = true
	default:
		q.byID[ev.ID] = ev
		q.order = append(q.order, ev.ID)
	}
	wake := q.wake
	q.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
}

// take removes and returns up to n queued events, oldest first, and whether events were
// dropped since the last take (then the database must be scanned).
func (q *eventQueue) take(n int) ([]*Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.init()
	k := min(n, len(q.order))
	out := make([]*Event, 0, k)
	for _, id := range q.order[:k] {
		out = append(out, q.byID[id])
		delete(q.byID, id)
	}
	q.order = q.order[k:]
	overflow := q.overflow
	q.overflow = false
	return out, overflow
}

// processed remembers that id was processed (see doneRing) and drops a queued copy.
func (q *eventQueue) processed(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.init()
	if q.byID[id] != nil {
		delete(q.byID, id)
		q.order = removeID(q.order, id)
	}
	if q.done[id] {
		return
	}
	if len(q.ring) < doneRing {
		q.ring = append(q.ring, id)
	} else {
		delete(q.done, q.ring[q.next])
		q.ring[q.next] = id
		q.next = (q.next + 1) % doneRing
	}
	q.done[id] = true
}

// clear drops every queued event (this replica does not hold the lease: the holder scans).
func (q *eventQueue) clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.init()
	if len(q.order) > 0 {
		q.order, q.byID = nil, map[string]*Event{}
	}
}

// signal is readable when an event was offered since it was last read.
func (q *eventQueue) signal() chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.init()
	return q.wake
}

func removeID(ids []string, id string) []string {
	for i, x := range ids {
		if x == id {
			return append(ids[:i], ids[i+1:]...)
		}
	}
	return ids
}
