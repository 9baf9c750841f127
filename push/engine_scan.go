package push

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// activeDoc is a push_active document: a notification that is not done yet. The fan-out lease
// holder alone updates it.
type activeDoc struct {
	ID        string    `bson:"_id"`
	State     string    `bson:"state"`
	NotBefore time.Time `bson:"not_before"`
	// Cursor is the RecipientSource cursor after the last batch written.
	Cursor string `bson:"cursor"`
	// Queued counts the devices put into batches so far.
	Queued    int64     `bson:"queued"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// Notification states in push_active.
const (
	stateFanout  = "fanout"  // the audience is being streamed into batches
	stateSending = "sending" // all batches are written; done when none is left
)

// sentCollName names the collection of a notification's push_sent claims. One collection per
// notification lets the completion drop the claims at once, where deleting them from a shared
// collection would scan it.
func sentCollName(id string) string { return "push_sent_" + collSuffix(id) }

// collSuffix names a notification's own collections.
func collSuffix(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// scan reads the pending work: fan-outs whose time came and, with push on, due batches, oldest
// first. It completes the notifications that have no batch left.
func (e *Engine) scan(ctx context.Context) ([]task, error) {
	e.scans.Add(1)
	if err := e.dropDue(ctx); err != nil {
		e.log().Warn("push: drop the claims of finished notifications", "err", err)
	}
	active, err := mongodb.FindAll[activeDoc](ctx, e.coll(activeColl), bson.D{}, activeColl)
	if err != nil {
		return nil, err
	}
	e.bodies.retain(func(id string) bool {
		return slices.ContainsFunc(active, func(a activeDoc) bool { return a.ID == id })
	})
	if len(active) == 0 && !e.pushOn() {
		return nil, nil
	}
	headers, err := mongodb.FindAll[batchHeader](ctx, e.coll(batchesColl), bson.D{}, batchesColl)
	if err != nil {
		return nil, err
	}
	now := e.Now.Stored()
	pending := make(map[string]bool, len(headers))
	for _, h := range headers {
		pending[h.Notification] = true
	}
	var todo []task
	for _, a := range active {
		switch {
		case a.State == stateFanout && !a.NotBefore.After(now):
			todo = append(todo, task{fanout: true, id: a.ID})
		case a.State == stateSending && !pending[a.ID]:
			if err := e.complete(ctx, a.ID); err != nil {
				return nil, err
			}
		}
	}
	if !e.pushOn() {
		return todo, nil
	}
	slices.SortFunc(headers, func(a, b batchHeader) int {
		if c := a.NotBefore.Compare(b.NotBefore); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	for _, h := range headers {
		if !h.NotBefore.After(now) {
			todo = append(todo, task{id: h.ID})
		}
	}
	return todo, nil
}

// complete finishes a notification whose batches are all gone: it records done_at first (see
// activate for why that order matters), drops the push_sent claims and removes it from
// push_active. Engines racing to complete the same notification do the same idempotent writes.
func (e *Engine) complete(ctx context.Context, id string) error {
	// The scan is not a snapshot on MongoDB; look again for a retry batch written meanwhile.
	err := e.coll(batchesColl).FindOne(ctx, bson.D{{Key: "notification", Value: id}}).Err()
	if err == nil {
		return nil
	}
	if !mongodb.IsNotFound(err) {
		return fmt.Errorf("complete %s: %w", id, mongodb.Translate(err, "batch"))
	}
	now := e.Now.Stored()
	if _, err := e.coll(notificationsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "done_at", Value: now}}}}); err != nil {
		return fmt.Errorf("complete %s: %w", id, mongodb.Translate(err, "notification"))
	}
	// The claims outlive the notification by ClaimsGrace: a holder that stalled past its lease
	// (a frozen VM) may still write a batch of it and send it, and only the claims stop that
	// second send. Dropped here, they were recreated empty by its insert, and every device of
	// the batch got the push twice.
	_, err = e.coll(dropsColl).InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "after", Value: now.Add(e.claimsGrace())}})
	if err != nil && !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("complete %s: %w", id, mongodb.Translate(err, "notification"))
	}
	e.bodies.forget(id)
	if _, err := e.coll(activeColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("complete %s: %w", id, mongodb.Translate(err, "notification"))
	}
	e.cache.forget(id)
	e.log().Info("push: notification done", "notification", id)
	return nil
}

func (e *Engine) claimsGrace() time.Duration {
	if e.ClaimsGrace > 0 {
		return e.ClaimsGrace
	}
	return 15 * time.Minute
}

// dropDue drops the per-device claims and batch device lists of notifications finished more
// than ClaimsGrace ago. The scan calls it at most once a ClaimsGrace (and a minute).
func (e *Engine) dropDue(ctx context.Context) error {
	now := e.Now.Stored()
	every := min(e.claimsGrace(), time.Minute)
	if last := e.dropsAt.Load(); last != 0 && now.Sub(time.UnixMilli(last)) < every {
		return nil
	}
	e.dropsAt.Store(now.UnixMilli())
	due, err := mongodb.FindAll[struct {
		ID string `bson:"_id"`
	}](ctx, e.coll(dropsColl), bson.D{{Key: "after", Value: bson.D{{Key: "$lte", Value: now}}}}, dropsColl)
	if err != nil {
		return err
	}
	for _, d := range due {
		if err := e.sentColl(d.ID).Drop(ctx); err != nil {
			return fmt.Errorf("drop sent claims of %s: %w", d.ID, mongodb.Translate(err, "notification"))
		}
		if err := e.bodiesColl(d.ID).Drop(ctx); err != nil {
			return fmt.Errorf("drop batch device lists of %s: %w", d.ID, mongodb.Translate(err, "notification"))
		}
		if _, err := e.coll(dropsColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}}); err != nil {
			return fmt.Errorf("drop %s: %w", d.ID, mongodb.Translate(err, "notification"))
		}
	}
	return nil
}
