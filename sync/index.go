package datasync

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// changeDoc is a change-log entry: what the write numbered ID touched.
type changeDoc struct {
	ID      int64         `bson:"_id"`
	Touches []touchDoc    `bson:"touches,omitempty"`
	Grants  []grantChange `bson:"grants,omitempty"`
	// Abandoned marks a write that was reaped after its lease without having logged what it
	// touched: its writer may have died after stamping records. Every table and key then counts
	// as changed at ID, so pulls read the tables and find those records by their _seq.
	Abandoned bool      `bson:"abandoned,omitempty"`
	At        time.Time `bson:"at"`
}

type touchDoc struct {
	Table string   `bson:"table"`
	Keys  []string `bson:"keys"`
}

type grantChange struct {
	UserID  string `bson:"user_id"`
	Key     string `bson:"key"`
	Granted bool   `bson:"granted"`
}

type grantState struct {
	granted bool
	seq     int64
}

// index is the per-instance memory of what changed when, which lets a pull skip every table in
// which nothing the user sees has changed since their cursor without reading the database.
type index struct {
	mu      sync.RWMutex
	applied int64                            // change log read up to here (other instances' writes)
	horizon int64                            // a key without an entry last changed at the horizon
	unknown int64                            // the newest abandoned write: every key may have changed there
	tables  map[string]map[string]int64      // table -> key -> last seq
	grants  map[string]map[string]grantState // user -> key -> grant
}

func (x *index) apply(c changeDoc) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.tables == nil {
		x.tables, x.grants = map[string]map[string]int64{}, map[string]map[string]grantState{}
	}
	if c.Abandoned {
		x.unknown = max(x.unknown, c.ID)
	}
	for _, t := range c.Touches {
		keys := x.tables[t.Table]
		if keys == nil {
			keys = map[string]int64{}
			x.tables[t.Table] = keys
		}
		for _, k := range t.Keys {
			keys[k] = max(keys[k], c.ID)
		}
	}
	for _, g := range c.Grants {
		user := x.grants[g.UserID]
		if user == nil {
			user = map[string]grantState{}
			x.grants[g.UserID] = user
		}
		if cur, ok := user[g.Key]; !ok || cur.seq <= c.ID {
			user[g.Key] = grantState{granted: g.Granted, seq: c.ID}
		}
	}
}

// lastChange returns the last sequence number at which a record of table seen through one of
// keys changed.
func (x *index) lastChange(table string, keys []string) int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	last := max(x.horizon, x.unknown)
	for _, k := range keys {
		last = max(last, x.tables[table][k])
	}
	return last
}

// access returns the keys granted to userID now, and the keys granted and revoked after since.
func (x *index) access(userID string, since int64) (granted, gained, lost []string) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for k, g := range x.grants[userID] {
		switch {
		case g.granted:
			granted = append(granted, k)
			if g.seq > since {
				gained = append(gained, k)
			}
		case g.seq > since:
			lost = append(lost, k)
		}
	}
	return granted, gained, lost
}

func (x *index) grant(userID, key string) (grantState, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	g, ok := x.grants[userID][key]
	return g, ok
}

// load reads the whole change log and the grants into the index (at Start).
func (e *Engine) load(ctx context.Context) error {
	snap, err := e.lowWater(ctx)
	if err != nil {
		return err
	}
	e.idx.mu.Lock()
	e.idx.horizon = max(e.idx.horizon, snap.horizon)
	e.idx.mu.Unlock()
	if err := e.readChanges(ctx, bson.D{}); err != nil {
		return err
	}
	if err := e.loadGrants(ctx); err != nil {
		return err
	}
	e.idx.mu.Lock()
	// Writes pending at this point may commit later: catch-up reads them from the low-water mark.
	e.idx.applied = max(e.idx.applied, snap.low)
	e.idx.mu.Unlock()
	return nil
}

// loadGrants reads every grant into the index: at Start, and after an abandoned write, which may
// have granted or revoked something without logging it.
func (e *Engine) loadGrants(ctx context.Context) error {
	cur, err := e.DB.Collection(accessColl).Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("load sync grants: %w", mongodb.Translate(err, "sync grant"))
	}
	var grants []accessDoc
	if err := cur.All(ctx, &grants); err != nil {
		return fmt.Errorf("load sync grants: %w", mongodb.Translate(err, "sync grant"))
	}
	for _, g := range grants {
		e.idx.apply(changeDoc{ID: g.Seq, Grants: []grantChange{{UserID: g.UserID, Key: g.Key, Granted: g.Granted}}})
	}
	return nil
}

// catchUp applies the change-log entries up to low that this instance has not seen: writes of
// other instances. On the embedded database this process is the only writer and its own writes
// are in the index already, so it reads nothing.
func (e *Engine) catchUp(ctx context.Context, low int64) error {
	if e.DB.Embedded {
		return nil
	}
	e.idx.mu.RLock()
	applied := e.idx.applied
	e.idx.mu.RUnlock()
	if low <= applied {
		return nil
	}
	err := e.readChanges(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: applied}, {Key: "$lte", Value: low}}}})
	if err != nil {
		return err
	}
	e.idx.mu.Lock()
	e.idx.applied = max(e.idx.applied, low)
	e.idx.mu.Unlock()
	return nil
}

func (e *Engine) readChanges(ctx context.Context, filter bson.D) error {
	cur, err := e.DB.Collection(changesColl).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("read sync change log: %w", mongodb.Translate(err, "sync change log"))
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var c changeDoc
		if err := cur.Decode(&c); err != nil {
			return fmt.Errorf("read sync change log: %w", err)
		}
		e.idx.apply(c)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read sync change log: %w", mongodb.Translate(err, "sync change log"))
	}
	return nil
}
