package datasync

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// Purge is the janitor: it moves the horizon to the newest change-log entry older than Horizon,
// then deletes the change log, the revoked grants and the tables' tombstones (see Purger) at or
// below it. The horizon is recorded first, so a pull that starts in between already answers a
// device with an older cursor with a full resync rather than an incremental pull that misses a
// purged tombstone. It returns unavailable when the database cannot be reached.
func (e *Engine) Purge(ctx context.Context) (err error) {
	defer apperr.Wrapf(&err, "purge sync history")
	cutoff := e.Now.UTC().Add(-e.horizon())
	var newest changeDoc
	err = e.DB.Collection(changesColl).FindOne(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: cutoff}}}},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&newest)
	switch {
	case mongodb.IsNotFound(err):
		return nil
	case err != nil:
		return mongodb.Translate(err, "sync change log")
	}
	h := newest.ID
	if err := e.setHorizon(ctx, h); err != nil {
		return err
	}
	if _, err := e.DB.Collection(changesColl).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$lte", Value: h}}}}); err != nil {
		return fmt.Errorf("delete change log: %w", mongodb.Translate(err, "sync change log"))
	}
	if _, err := e.DB.Collection(accessColl).DeleteMany(ctx, bson.D{
		{Key: "granted", Value: false}, {Key: "_seq", Value: bson.D{{Key: "$lte", Value: h}}},
	}); err != nil {
		return fmt.Errorf("delete revoked grants: %w", mongodb.Translate(err, "sync grant"))
	}
	for _, t := range e.registered() {
		if p, ok := t.(Purger); ok {
			if err := p.PurgeTombstones(ctx, h+1); err != nil {
				return fmt.Errorf("purge tombstones of %s: %w", t.Name(), err)
			}
		}
	}
	e.idx.prune(h)
	return nil
}

// setHorizon records the horizon in the sequence document (never moving it back) and in the
// index.
func (e *Engine) setHorizon(ctx context.Context, h int64) error {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	_, err := e.DB.Collection(metaColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: seqID}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "horizon", Value: h}}}})
	if err != nil {
		return fmt.Errorf("record sync horizon: %w", mongodb.Translate(err, "sync sequence"))
	}
	if e.mem != nil {
		e.mem.horizon = max(e.mem.horizon, h)
	}
	e.idx.mu.Lock()
	e.idx.horizon = max(e.idx.horizon, h)
	e.idx.mu.Unlock()
	return nil
}

// PurgeTombstones deletes the tombstones of an engine-managed collection stamped below
// beforeSeq: the helper behind most tables' Purger.
func PurgeTombstones(ctx context.Context, db *mongodb.DB, coll string, beforeSeq int64) error {
	_, err := db.Collection(coll).DeleteMany(ctx, bson.D{
		{Key: "_deleted", Value: true}, {Key: "_seq", Value: bson.D{{Key: "$lt", Value: beforeSeq}}},
	})
	return mongodb.Translate(err, coll)
}

// prune forgets what the horizon makes redundant: per-key sequence numbers at or below it (a
// missing key counts as changed at the horizon) and revoked grants older than it.
func (x *index) prune(h int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for table, keys := range x.tables {
		for k, s := range keys {
			if s <= h {
				delete(keys, k)
				delete(x.named[table], k)
			}
		}
	}
	for _, user := range x.grants {
		for k, g := range user {
			if !g.granted && g.seq <= h {
				delete(user, k)
			}
		}
	}
}
