package datasync

import (
	"context"
	"fmt"

	"github.com/mportal/mportal/internal/mongodb"
)

// change is what one write did: the records it touched and the grants it changed.
type change struct {
	touches []Touch
	grants  []grantChange
}

// Write runs fn with a fresh sequence number; fn stamps every document it writes with it (field
// "_seq") and returns what it touched. fn must be idempotent: if the write outlives its lease,
// Write runs fn again with a newer number, so that a slow writer never loses a change. Write
// returns fn's error as is, and unavailable when the sequence cannot be allocated.
func (e *Engine) Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]Touch, error)) error {
	return e.write(ctx, func(ctx context.Context, seq int64) (change, error) {
		touches, err := fn(ctx, seq)
		return change{touches: touches}, err
	})
}

// write allocates a sequence number, runs fn, logs and indexes what it did, and releases the
// number; the order matters: a puller sees the number committed only once the change is in the
// log and in this instance's index.
func (e *Engine) write(ctx context.Context, fn func(ctx context.Context, seq int64) (change, error)) error {
	for attempt := 1; ; attempt++ {
		pending, err := e.allocate(ctx)
		if err != nil {
			return err
		}
		seq := pending.S
		ch, fnErr := fn(ctx, seq)
		// Bookkeeping runs even when the caller gave up: a number left pending would hold
		// every puller's cursor back until the lease ends.
		bg := context.WithoutCancel(ctx)
		logErr := e.logChange(bg, seq, ch)
		kept, relErr := e.release(bg, pending)
		switch {
		case fnErr != nil:
			return fnErr
		case logErr != nil:
			return logErr
		case relErr != nil:
			return relErr
		case !kept:
			e.logger().Warn("sync: write outlived its lease, running it again", "seq", seq, "attempt", attempt)
			continue
		}
		return nil
	}
}

// logChange records ch in the change log (for other instances and restarts) and in this
// instance's index.
func (e *Engine) logChange(ctx context.Context, seq int64, ch change) error {
	if len(ch.touches) == 0 && len(ch.grants) == 0 {
		return nil
	}
	doc := changeDoc{ID: seq, Grants: ch.grants, At: e.now()}
	for _, t := range ch.touches {
		if len(t.Keys) > 0 {
			doc.Touches = append(doc.Touches, touchDoc{Table: t.Table, Keys: t.Keys})
		}
	}
	// The index first: should the log insert fail, this instance still serves the change.
	e.idx.apply(doc)
	if _, err := e.DB.Collection(changesColl).InsertOne(ctx, doc); err != nil && !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("log sync change %d: %w", seq, mongodb.Translate(err, "sync change"))
	}
	return nil
}
