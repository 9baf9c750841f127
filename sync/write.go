package datasync

import (
	"context"
	"errors"
	"fmt"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// change is what one write did: the records it touched and the grants it changed.
type change struct {
	touches []Touch
	grants  []grantChange
}

// errLeaseLost is the cause of the unavailable error of a write that outlived its lease on every
// attempt (see Engine.WriteAttempts).
var errLeaseLost = errors.New("the write outlived its lease on every attempt")

// Write runs fn with a fresh sequence number; fn stamps every document it writes with it (field
// "_seq") and returns what it touched. fn must be idempotent: if the write outlives its lease,
// Write runs fn again with a newer number, so that a slow writer never loses a change, but at
// most WriteAttempts times in all. Keep fn's work bounded (a few hundred documents): the lease
// is short. Write returns fn's error as is, and unavailable when the sequence cannot be
// allocated or every attempt outlived its lease (fn's writes are then in place, but a device
// may miss them until they are written again).
func (e *Engine) Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]Touch, error)) error {
	return e.write(ctx, func(ctx context.Context, seq int64) (change, error) {
		touches, err := fn(ctx, seq)
		return change{touches: touches}, err
	})
}

// write runs fn through attempt until an attempt keeps its number, at most writeAttempts times.
func (e *Engine) write(ctx context.Context, fn func(ctx context.Context, seq int64) (change, error)) error {
	attempts := e.writeAttempts()
	for range attempts {
		kept, err := e.attempt(ctx, fn)
		if err != nil {
			return err
		}
		if kept {
			return nil
		}
	}
	e.logger().Error("sync: giving up a write that outlived its lease on every attempt", "attempts", attempts)
	return apperr.Wrap(errLeaseLost, apperr.Unavailable, "the server is too busy to complete this change; try again")
}

// attempt allocates a sequence number, runs fn, logs and indexes what it did, and releases the
// number; the order matters: a puller sees the number committed only once the change is in the
// log and in this instance's index. It reports false when a puller reaped the number before
// the release (the write outlived its lease): a device may have moved past the number while fn
// was writing, so fn's writes count only once done again under a newer number.
func (e *Engine) attempt(ctx context.Context, fn func(ctx context.Context, seq int64) (change, error)) (kept bool, err error) {
	pending, err := e.allocate(ctx)
	if err != nil {
		return false, err
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
		return false, fnErr
	case logErr != nil:
		return false, logErr
	case relErr != nil:
		return false, relErr
	case !kept:
		e.logger().Warn("sync: write outlived its lease", "seq", seq, "lease", e.lease())
	}
	return kept, nil
}

// logChange records ch in the change log (for other instances and restarts) and in this
// instance's index.
func (e *Engine) logChange(ctx context.Context, seq int64, ch change) error {
	if len(ch.touches) == 0 && len(ch.grants) == 0 {
		return nil
	}
	doc := changeDoc{ID: seq, Grants: ch.grants, At: e.Now.UTC()}
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
