package datasync

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/sync/semaphore"

	"github.com/mportal/mportal/internal/apperr"
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
	Table   string             `bson:"table"`
	Keys    []string           `bson:"keys"`
	Records []touchedRecordDoc `bson:"records,omitempty"`
}

type touchedRecordDoc struct {
	Key string `bson:"k"`
	ID  string `bson:"id"`
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
	// named is, per table and key, the records recent writes named (Touch.Records), for the
	// keys of which at least one write named them.
	named map[string]map[string]*namedLog
}

// namedLog is what the index knows of the records changed under one key of one table: every
// change after unnamed named its records, and those are recent (at most maxNamed of them, the
// newest; dropping one moves unnamed up to it).
type namedLog struct {
	unnamed int64
	recent  []namedChange
}

type namedChange struct {
	seq int64
	id  string
}

// maxNamed bounds the records remembered per key: a device whose cursor is further behind
// than that many changes of its key queries by cursor.
const maxNamed = 32

// note records that write seq changed record id seen through the log's key.
func (l *namedLog) note(seq int64, id string) {
	for i := range l.recent {
		if l.recent[i].id == id {
			l.recent[i].seq = max(l.recent[i].seq, seq)
			return
		}
	}
	l.recent = append(l.recent, namedChange{seq: seq, id: id})
	if len(l.recent) > maxNamed {
		oldest := 0
		for i := range l.recent {
			if l.recent[i].seq < l.recent[oldest].seq {
				oldest = i
			}
		}
		l.unnamed = max(l.unnamed, l.recent[oldest].seq)
		l.recent = append(l.recent[:oldest], l.recent[oldest+1:]...)
	}
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
		x.applyNamed(c.ID, t, keys)
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

// applyNamed updates the named logs of t's table for write seq; keys are the table's last
// changes before it.
func (x *index) applyNamed(seq int64, t touchDoc, keys map[string]int64) {
	if x.named == nil {
		x.named = map[string]map[string]*namedLog{}
	}
	logs := x.named[t.Table]
	if len(t.Records) > 0 && logs == nil {
		logs = map[string]*namedLog{}
		x.named[t.Table] = logs
	}
	for _, r := range t.Records {
		l := logs[r.Key]
		if l == nil {
			// Every earlier change of the key named nothing.
			l = &namedLog{unnamed: max(keys[r.Key], x.horizon)}
			logs[r.Key] = l
		}
		l.note(seq, r.ID)
	}
	for _, k := range t.Keys {
		l := logs[k]
		if l != nil && !slices.ContainsFunc(t.Records, func(r touchedRecordDoc) bool { return r.Key == k }) {
			l.unnamed = max(l.unnamed, seq)
		}
	}
}

// changed returns the ids of table's records changed after since under keys, sorted, and
// whether every such change named its records (if not, the ids are nil). rewritten says that
// the table writes again, under a newer number and naming them, whatever an abandoned write
// may have written (see Rewriter): abandoned writes then hide nothing.
func (x *index) changed(table string, keys []string, since int64, rewritten bool) ([]string, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if since <= 0 || since < x.horizon || (since < x.unknown && !rewritten) {
		return nil, false
	}
	var ids []string
	for _, k := range keys {
		if x.tables[table][k] <= since {
			continue
		}
		l := x.named[table][k]
		if l == nil || l.unnamed > since {
			return nil, false
		}
		for _, c := range l.recent {
			if c.seq > since {
				ids = append(ids, c.id)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), true
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
// other instances. It returns how far the pull may answer: low, or less (never below since, the
// device's cursor) when another pull read the log while this one waited its turn. On the
// embedded database this process is the only writer and its own writes are in the index
// already, so it reads nothing.
func (e *Engine) catchUp(ctx context.Context, since, low int64) (int64, error) {
	if e.DB.Embedded {
		return low, nil
	}
	before := e.applied()
	if low <= before {
		return low, nil
	}
	// On the stand-in FerretDB a range on _id reads the whole change log: concurrent pulls
	// each reading it kept the database busy after every write of another instance.
	if e.hooks.catchUpWaits != nil {
		e.hooks.catchUpWaits()
	}
	// Waited for within ctx: with the database away, each pull in turn spent its 5 s of server
	// selection holding the turn, and one queued behind five others got its turn (and then
	// its answer) past its deadline; it now gives up with the rest.
	e.catchUpSemOnce.Do(func() { e.catchUpSem = semaphore.NewWeighted(1) })
	if err := e.catchUpSem.Acquire(ctx, 1); err != nil {
		unavailable := apperr.Wrap(err, apperr.Unavailable, "the sync change log is being read; try again in a moment")
		unavailable.RetryAfter = mongodb.UnavailableRetryAfter
		return 0, unavailable
	}
	defer e.catchUpSem.Release(1)
	applied := e.applied()
	if low <= applied {
		return low, nil
	}
	if applied > before && applied >= since {
		// Another pull read the log meanwhile: answer up to where it read rather than read
		// again. While writes go on, each pull that waited would otherwise read once more,
		// one after the other: on the rig's FerretDB (2–4 s a read under load) pulls queued
		// past their 30 s deadline.
		return applied, nil
	}
	// One range query, also on FerretDB: entries read one by one by number cost a whole read
	// each there, since FerretDB v1.24 pushes down an _id filter only when the value is a string
	// or an ObjectID (backends/sqlite/collection.go), and the log's _id is a number.
	err := e.readChanges(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: applied}, {Key: "$lte", Value: low}}}})
	if err != nil {
		return 0, err
	}
	e.idx.mu.Lock()
	e.idx.applied = max(e.idx.applied, low)
	e.idx.mu.Unlock()
	return low, nil
}

func (e *Engine) applied() int64 {
	e.idx.mu.RLock()
	defer e.idx.mu.RUnlock()
	return e.idx.applied
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
