package approval

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// Event worker tuning.
const (
	// EventBatch is how many events one batch processes at most.
	EventBatch = 256
	// eventWorkers is how many events of a batch are applied at once: their task writes share
	// sync sequence numbers (the sync engine's group commit) and the database's round trips
	// overlap. Events of one task serialize on its lock and the version decides.
	eventWorkers = 16
	// EventScanInterval is how often the worker on the embedded database scans the events
	// collection for pending events it was not handed (it scans every pass on a database that
	// replicas share, MongoDB or FerretDB, where others accept events too, and always after a
	// restart or when it takes the lease over).
	EventScanInterval = time.Minute
	// EventPollInterval is how often an idle worker looks at its lease and the database.
	EventPollInterval = time.Second
)

// ProcessEvents applies the accepted events that wait, in batches, as long as this replica
// holds the event lease, and returns how many it processed. An event is marked processed
// (with its result) after its effects are written; one that fails stays pending and is tried
// again at a later pass. It returns unavailable when the database cannot be reached.
func (s *Service) ProcessEvents(ctx context.Context) (int, error) {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	if s.paused.Load() > 0 {
		return 0, nil
	}
	held, fresh, err := s.holdEventLease(ctx)
	if err != nil {
		return 0, err
	}
	if !held {
		s.queue.clear()
		return 0, nil
	}
	// Only on the embedded database does this process accept every event (one process serves
	// it); replicas sharing a FerretDB hand their accepts to nobody but their own worker.
	scan := fresh || !s.DB.Embedded || s.Now.UTC().Sub(s.scanned) >= EventScanInterval
	total := 0
	var errs []error
	for ctx.Err() == nil {
		s.yieldToAccepts(ctx)
		batch, overflow := s.queue.take(EventBatch)
		if scan || overflow {
			more, err := s.pendingEvents(ctx, EventBatch)
			if err != nil {
				return total, err
			}
			s.scanned = s.Now.UTC()
			batch = mergeEvents(batch, more)
			scan = len(more) == EventBatch // more may wait
		}
		if len(batch) == 0 {
			break
		}
		n, err := s.processBatch(ctx, batch)
		total += n
		if err != nil {
			errs = append(errs, err)
			s.scanned = time.Time{} // the failed events are read again at the next pass
			break
		}
		if held, _, err := s.holdEventLease(ctx); err != nil || !held {
			return total, err
		}
	}
	return total, errors.Join(errs...)
}

// PauseEvents stops this process's event worker from starting another batch until resume is
// called (events are still accepted and stored; they wait). A benchmark uses it to measure
// accepting apart from processing; an operator could, to let a burst be answered first.
func (s *Service) PauseEvents() (resume func()) {
	s.paused.Add(1)
	s.procMu.Lock() // a pass in flight ends first
	//lint:ignore SA2001 a barrier: a pass in flight holds procMu
	s.procMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.paused.Add(-1)
			select {
			case s.queue.signal() <- struct{}{}:
			default:
			}
		})
	}
}

// Accepting comes first: during a burst (at least acceptBurst events accepted within the
// current or the previous acceptWindow, i.e. about 200 events/s) the worker waits before each
// batch, at most acceptYieldMax, so that the burst is answered at the rate of its inserts
// rather than competing with its own processing for the database (on the embedded database,
// applying an event costs ten to twenty times what accepting it does). A slower stream is
// processed as it comes, and under a sustained burst processing still runs at least every
// acceptYieldMax.
const (
	acceptWindow   = 100 * time.Millisecond
	acceptBurst    = 20
	acceptYieldMax = 10 * time.Second
)

// acceptRate counts accepted events per acceptWindow (wall clock: a scheduling heuristic, not
// a time the service stores).
type acceptRate struct {
	window atomic.Int64 // current window (Unix ns / acceptWindow)
	count  atomic.Int64 // events accepted in it
	prev   atomic.Int64 // events accepted in the window before it
}

func (r *acceptRate) add() {
	w := time.Now().UnixNano() / int64(acceptWindow)
	if cur := r.window.Load(); cur != w && r.window.CompareAndSwap(cur, w) {
		n := r.count.Swap(0)
		if cur != w-1 {
			n = 0
		}
		r.prev.Store(n)
	}
	r.count.Add(1)
}

// busy reports whether a burst is being accepted.
func (r *acceptRate) busy() bool {
	w := time.Now().UnixNano() / int64(acceptWindow)
	switch r.window.Load() {
	case w:
		return r.count.Load() >= acceptBurst || r.prev.Load() >= acceptBurst
	case w - 1:
		return r.count.Load() >= acceptBurst
	}
	return false
}

// yieldToAccepts waits while a burst is being accepted (see acceptBurst).
func (s *Service) yieldToAccepts(ctx context.Context) {
	deadline := time.Now().Add(acceptYieldMax)
	for s.accepts.busy() && time.Now().Before(deadline) {
		t := time.NewTimer(acceptWindow / 4)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// RunEvents processes events until ctx ends: at once when this process accepts one, and every
// EventPollInterval (for events accepted elsewhere, or left by a failure or a restart). It also
// purges old events and leases. Errors are logged and retried.
func (s *Service) RunEvents(ctx context.Context) {
	t := time.NewTicker(EventPollInterval)
	defer t.Stop()
	for {
		if _, err := s.ProcessEvents(ctx); err != nil && ctx.Err() == nil {
			s.log().Warn("approval: process events", "err", err)
		}
		s.purgeEvents(ctx)
		select {
		case <-ctx.Done():
			s.releaseEventLease(context.WithoutCancel(ctx))
			return
		case <-s.queue.signal():
		case <-t.C:
		}
	}
}

// pendingEvents reads up to n stored events not yet processed, oldest first.
func (s *Service) pendingEvents(ctx context.Context, n int) ([]*Event, error) {
	cur, err := s.coll(eventsColl).Find(ctx, bson.D{{Key: "processed_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		options.Find().SetSort(bson.D{{Key: "received_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(n)))
	if err != nil {
		return nil, fmt.Errorf("read pending events: %w", mongodb.Translate(err, "event"))
	}
	var out []*Event
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read pending events: %w", mongodb.Translate(err, "event"))
	}
	return out, nil
}

// mergeEvents appends the events of more that a are missing.
func mergeEvents(a, more []*Event) []*Event {
	seen := make(map[string]bool, len(a))
	for _, e := range a {
		seen[e.ID] = true
	}
	for _, e := range more {
		if !seen[e.ID] {
			seen[e.ID] = true
			a = append(a, e)
		}
	}
	return a
}

// processBatch applies a batch of events, eventWorkers at a time, and returns how many were
// processed and the first failure.
func (s *Service) processBatch(ctx context.Context, batch []*Event) (int, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		done  int
		first error
		next  = make(chan *Event)
	)
	for range min(eventWorkers, len(batch)) {
		wg.Go(func() {
			for ev := range next {
				err := s.processEvent(ctx, ev)
				mu.Lock()
				if err == nil {
					done++
				} else if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	for _, ev := range batch {
		next <- ev
	}
	close(next)
	wg.Wait()
	return done, first
}

// processEvent applies one stored event and marks it processed with its result. (One update
// by _id per event: a bulk write of a batch's marks stalled the embedded database for seconds.)
func (s *Service) processEvent(ctx context.Context, ev *Event) error {
	result, err := s.applyEvent(ctx, ev)
	if err != nil {
		return fmt.Errorf("apply event %s: %w", ev.ID, err)
	}
	if _, err := s.coll(eventsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: ev.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "processed_at", Value: s.Now.Stored()}, {Key: "result", Value: result}}}}); err != nil {
		return fmt.Errorf("mark event %s processed: %w", ev.ID, mongodb.Translate(err, "event"))
	}
	s.queue.processed(ev.ID)
	return nil
}

// applyEvent applies ev and returns its result.
func (s *Service) applyEvent(ctx context.Context, ev *Event) (string, error) {
	p, err := parsePayload([]byte(ev.Body))
	if err != nil {
		s.log().Warn("approval: a stored event no longer parses", "event", ev.ID, "err", err)
		return ResultRejected, nil
	}
	approvers := ev.Approvers
	if p.Data.Task != nil && approvers[p.Data.Task.ApproverEmployeeNo] == "" {
		// Stored before approvers were resolved at acceptance: resolve them now.
		approvers, err = s.approvers(ctx, p)
		if apperr.Is(err, apperr.UnknownApprovers) {
			s.log().Warn("approval: a stored event's approver is unknown", "event", ev.ID, "err", err)
			return ResultRejected, nil
		}
		if err != nil {
			return "", err
		}
	}
	changed, err := s.apply(ctx, ev.Source, p, approvers)
	if err != nil {
		return "", err
	}
	if changed {
		return ResultApplied, nil
	}
	return ResultStale, nil
}

// EventStatus is what became of an accepted event.
type EventStatus struct {
	EventID    string    `json:"event_id"`
	ReceivedAt time.Time `json:"received_at"`
	// Result is accepted while the event waits, then applied, stale or rejected.
	Result      string     `json:"result"`
	ProcessedAt *time.Time `json:"processed_at,omitempty"`
}

// EventStatus returns the status of the event source accepted with webhookID; not_found when
// there is none (never accepted, or purged after EventRetention), unavailable when the database
// cannot be reached.
func (s *Service) EventStatus(ctx context.Context, source, webhookID string) (*EventStatus, error) {
	var ev Event
	err := s.coll(eventsColl).FindOne(ctx, bson.D{{Key: "_id", Value: EventKey(source, webhookID)}}).Decode(&ev)
	if err != nil {
		return nil, fmt.Errorf("read event %s: %w", EventKey(source, webhookID), mongodb.Translate(err, "event"))
	}
	st := &EventStatus{EventID: webhookID, ReceivedAt: ev.ReceivedAt, Result: ResultAccepted, ProcessedAt: ev.ProcessedAt}
	if ev.ProcessedAt != nil {
		st.Result = ev.Result
	}
	return st, nil
}
