package datasync

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// Record is one write of an engine-managed document through Upsert.
type Record struct {
	// ID is the document's _id (for synced records, the client-generated id).
	ID string
	// Keys are the audience keys after the write. Keys the document had before and lacks now
	// become former keys, whose holders get the record as deleted. Ignored when Delete is set.
	Keys []string
	// Set are the fields written on every write (never _id or the Meta fields).
	Set bson.D
	// SetOnInsert are fields written only when the write creates the document (its author,
	// creation time).
	SetOnInsert bson.D
	// Delete turns the document into a tombstone; it keeps its keys so that the delete reaches
	// everyone who saw it.
	Delete bool
	// Prev, when set, is the document's meta as the caller just read it (in one query for a
	// whole push, say): Upsert then skips its own read, which on the embedded database scans the
	// collection. A zero Meta means the caller found no document. A stale Prev costs a retry,
	// never a lost former key: the write is conditional on Prev's sequence number.
	Prev *Meta
}

// Upsert writes r into coll with sequence number seq, maintaining Meta: _seq, _created_seq on
// creation, _former_keys (old keys minus new keys accumulate) and tombstones. It returns the keys
// the write touched (old and new), for the Touch the caller returns from its Write, and whether
// it created the document. Upsert reads the document's previous meta (unless r.Prev has it),
// then inserts a new document (guarded by the unique _id) or updates the existing one on the
// condition that its _seq is still the one read, retrying when a concurrent writer got there
// first. On the embedded database it also holds db.Lock, whose updates are not atomic; so the
// caller must not hold a db.Lock itself (its striped mutexes do not nest).
//
// Deleting a document that does not exist writes nothing and touches nothing.
func Upsert(ctx context.Context, db *mongodb.DB, coll *mongo.Collection, seq int64, now time.Time, r Record) (touched []string, created bool, err error) {
	unlock := db.Lock("datasync:" + coll.Name() + "/" + r.ID)
	defer unlock()
	for attempt := 0; attempt < 5; attempt++ {
		prev, exists, err := previous(ctx, coll, r, attempt)
		if err != nil {
			return nil, false, err
		}
		if !exists && r.Delete {
			return nil, false, nil
		}
		keys := r.Keys
		if r.Delete {
			keys = prev.Keys
		}
		if !exists {
			// A new document is one insert guarded by the unique _id: atomic everywhere, and
			// cheap on the embedded database, where an upsert's filter scans the collection.
			_, err := coll.InsertOne(ctx, newDoc(seq, now, r))
			switch {
			case mongodb.IsDuplicateKey(err):
				continue // created by a concurrent writer since the read: write over it
			case err != nil:
				return nil, false, fmt.Errorf("insert %s/%s: %w", coll.Name(), r.ID, mongodb.Translate(err, coll.Name()))
			}
			return nonNil(r.Keys), true, nil
		}
		update := buildUpdate(seq, now, r, keys, without(prev.Keys, keys), prev.Deleted)
		res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: r.ID}, {Key: "_seq", Value: prev.Seq}}, update)
		switch {
		case err != nil:
			return nil, false, fmt.Errorf("upsert %s/%s: %w", coll.Name(), r.ID, mongodb.Translate(err, coll.Name()))
		case res.MatchedCount == 0:
			continue // changed by a concurrent writer since the read
		}
		return union(prev.Keys, keys), false, nil
	}
	return nil, false, fmt.Errorf("upsert %s/%s: too many concurrent writers", coll.Name(), r.ID)
}

// previous returns the document's meta: r.Prev on the first attempt when the caller read it,
// else read now.
func previous(ctx context.Context, coll *mongo.Collection, r Record, attempt int) (Meta, bool, error) {
	if r.Prev != nil && attempt == 0 {
		return *r.Prev, r.Prev.Seq != 0, nil
	}
	var prev Meta
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: r.ID}},
		options.FindOne().SetProjection(bson.D{{Key: "_seq", Value: 1}, {Key: "_keys", Value: 1}, {Key: "_deleted", Value: 1}})).Decode(&prev)
	switch {
	case mongodb.IsNotFound(err):
		return Meta{}, false, nil
	case err != nil:
		return Meta{}, false, fmt.Errorf("upsert %s/%s: %w", coll.Name(), r.ID, mongodb.Translate(err, coll.Name()))
	}
	return prev, true, nil
}

// newDoc is the document Upsert inserts for r.
func newDoc(seq int64, now time.Time, r Record) bson.D {
	doc := bson.D{{Key: "_id", Value: r.ID}}
	doc = append(doc, r.SetOnInsert...)
	doc = append(doc, r.Set...)
	return append(doc,
		bson.E{Key: "_seq", Value: seq}, bson.E{Key: "_created_seq", Value: seq},
		bson.E{Key: "_keys", Value: nonNil(r.Keys)}, bson.E{Key: "_updated_at", Value: now.UTC()})
}

// buildUpdate builds the update of an existing document. A tombstone brought back to life gets
// a new _created_seq; devices that applied its delete get it as a live record and create it.
func buildUpdate(seq int64, now time.Time, r Record, keys, lost []string, revive bool) bson.D {
	set := bson.D{
		{Key: "_seq", Value: seq},
		{Key: "_keys", Value: nonNil(keys)},
		{Key: "_updated_at", Value: now.UTC()},
	}
	set = append(set, r.Set...)
	var update bson.D
	switch {
	case r.Delete:
		set = append(set, bson.E{Key: "_deleted", Value: true})
	case revive:
		set = append(set, bson.E{Key: "_created_seq", Value: seq})
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "_deleted", Value: ""}}})
	}
	update = append(update, bson.E{Key: "$set", Value: set})
	if len(lost) > 0 {
		update = append(update, bson.E{Key: "$addToSet", Value: bson.D{
			{Key: "_former_keys", Value: bson.D{{Key: "$each", Value: lost}}},
		}})
	}
	return update
}

// without returns the elements of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// union returns the elements of a and b, each once.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
