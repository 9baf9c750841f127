package feedback

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// feedbackCache is an in-memory copy of the feedback collection that serves pulls on the
// embedded database. FerretDB returns a feedback document in about 250 µs (it decodes every
// document in Go), so a first sync of 10,000 records would spend seconds in the database; from
// memory it is bound by JSON encoding. The embedded database is only ever served by this
// process and every feedback write goes through this package, under the record's lock, so the
// copy is exact: each write puts the document's new state, before the engine releases the
// write's sequence number. On MongoDB (indexed queries, several instances) it stays off.
//
// Stored documents are never modified, only replaced, so a pull may range over a snapshot while
// writes land.
type feedbackCache struct {
	mu   sync.RWMutex
	on   bool
	docs map[string]*feedbackDoc
	// writes counts put, add and purge calls, whether the copy is on or not (see loopMemo).
	writes atomic.Uint64
}

// load fills the cache from coll and turns it on.
func (c *feedbackCache) load(ctx context.Context, coll *mongo.Collection) error {
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("load feedback: %w", mongodb.Translate(err, "feedback"))
	}
	docs := map[string]*feedbackDoc{}
	for cur.Next(ctx) {
		d := new(feedbackDoc)
		if err := cur.Decode(d); err != nil {
			return fmt.Errorf("load feedback: decode: %w", err)
		}
		docs[d.ID] = d
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("load feedback: %w", mongodb.Translate(err, "feedback"))
	}
	c.mu.Lock()
	c.docs, c.on = docs, true
	c.mu.Unlock()
	return nil
}

// put stores d's current state (a copy). The caller holds the record's lock.
func (c *feedbackCache) put(d *feedbackDoc) {
	c.writes.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on {
		cp := *d
		c.docs[d.ID] = &cp
	}
}

// add stores a document this process just inserted, unless a locked writer has already stored
// a newer state of it (a concurrent copy of the same push that found it and updated it).
func (c *feedbackCache) add(d *feedbackDoc) {
	c.writes.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.docs[d.ID]; c.on && !ok {
		cp := *d
		c.docs[d.ID] = &cp
	}
}

// get returns a copy of document id and whether it is cached, and whether the cache is on: with
// the cache on, a missing id is a missing document.
func (c *feedbackCache) get(id string) (d feedbackDoc, found, on bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.on {
		return feedbackDoc{}, false, false
	}
	if cached, ok := c.docs[id]; ok {
		return *cached, true, true
	}
	return feedbackDoc{}, false, true
}

// enabled reports whether the cache is on (the embedded database).
func (c *feedbackCache) enabled() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.on
}

// snapshot returns the cached documents, or false when the cache is off.
func (c *feedbackCache) snapshot() ([]*feedbackDoc, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.on {
		return nil, false
	}
	out := make([]*feedbackDoc, 0, len(c.docs))
	for _, d := range c.docs {
		out = append(out, d)
	}
	return out, true
}

// purge forgets the tombstones the engine purged from the collection.
func (c *feedbackCache) purge(beforeSeq int64) {
	c.writes.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, d := range c.docs {
		if d.Deleted && d.Seq < beforeSeq {
			delete(c.docs, id)
		}
	}
}

// pullCached streams q's changes from the cache; false when the cache is off.
func (t feedbackTable) pullCached(ctx context.Context, q datasync.Query, out *datasync.TableWriter) (bool, error) {
	docs, ok := t.s.cache.snapshot()
	if !ok {
		return false, nil
	}
	for i, d := range docs {
		if i%1000 == 0 && ctx.Err() != nil {
			return true, ctx.Err()
		}
		if kind, send := datasync.Classify(q, &d.Meta); send {
			if err := out.Emit(d.ID, t.s.record(d, q.User), kind); err != nil {
				return true, err
			}
		}
	}
	return true, nil
}
