package datasync

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

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
// "_seq") and returns what it touched. Writes that run concurrently may share a number (see
// group.go) and their fns run concurrently: fn takes the locks of the records it writes. A
// Write that fn starts with the ctx it was given joins this one: it runs at once with the same
// number, and what it touches is logged with what fn touches. fn must be idempotent: if the write outlives its lease,
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
	for i := range attempts {
		actx := ctx
		if i > 0 {
			actx = rerunning(ctx)
		}
		kept, err := e.attempt(actx, 1, fn)
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

// rerunKey marks the context of a write's fn run again (Rerun).
type rerunKey struct{}

func rerunning(ctx context.Context) context.Context { return context.WithValue(ctx, rerunKey{}, true) }

// Rerun reports whether ctx is that of a write's fn (or a table's Push) run again because an
// earlier run outlived its lease. Pulls may have read past the earlier run's number before it
// stamped its records, so this run must stamp everything it would write with its own number,
// including what it finds already in place and would otherwise skip as unchanged.
func Rerun(ctx context.Context) bool {
	v, _ := ctx.Value(rerunKey{}).(bool)
	return v
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
			td := touchDoc{Table: t.Table, Keys: t.Keys}
			for _, r := range t.Records {
				td.Records = append(td.Records, touchedRecordDoc(r))
			}
			doc.Touches = append(doc.Touches, td)
		}
	}
	// The index first: should the log insert fail, this instance still serves the change.
	e.idx.apply(doc)
	if e.DB.Embedded {
		e.changeLog.add(e, doc)
		return nil
	}
	if e.hooks.logging != nil {
		if err := e.hooks.logging(); err != nil {
			return fmt.Errorf("log sync change %d: %w", seq, err)
		}
	}
	_, err := e.DB.Collection(changesColl).InsertOne(ctx, doc)
	switch {
	case err == nil:
		return nil
	case !mongodb.IsDuplicateKey(err):
		return fmt.Errorf("log sync change %d: %w", seq, mongodb.Translate(err, "sync change"))
	}
	// Our own insert retried by the driver, or a pull that found the number past its lease and
	// logged it abandoned first: then the log names none of this write's records, and pulls
	// that read named records would miss them, so the write must run again.
	var prev changeDoc
	if err := e.DB.Collection(changesColl).FindOne(ctx, bson.D{{Key: "_id", Value: seq}}).Decode(&prev); err != nil {
		return fmt.Errorf("log sync change %d: %w", seq, mongodb.Translate(err, "sync change"))
	}
	if prev.Abandoned {
		return errLoggedAbandoned
	}
	return nil
}

// errLoggedAbandoned is logChange's answer when a pull logged the write's number as abandoned
// before the write logged its change: the write is not kept, and runs again.
var errLoggedAbandoned = errors.New("the write's number was logged as abandoned")
