package datasync

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/mongodb"
)

// Meta is the sync bookkeeping of a document in an engine-managed collection. Tables embed it
// in their document types with `bson:",inline"`; StreamChanges and Upsert maintain it.
type Meta struct {
	// Seq is the sequence number of the document's last write.
	Seq int64 `bson:"_seq"`
	// CreatedSeq is the sequence number of the write that created (or revived) it. Pulls do not
	// use it: every live record goes out as updated (see TableWriter).
	CreatedSeq int64 `bson:"_created_seq"`
	// Keys are the audience keys whose holders see the document.
	Keys []string `bson:"_keys"`
	// FormerKeys are keys the document had once and lost: their holders get it as deleted.
	FormerKeys []string `bson:"_former_keys,omitempty"`
	// Deleted makes the document a tombstone. It keeps its Keys so that the delete reaches
	// everyone who saw it; Engine.Purge removes it after the horizon.
	Deleted bool `bson:"_deleted,omitempty"`
	// UpdatedAt is when the document was last written.
	UpdatedAt time.Time `bson:"_updated_at"`
}

// syncMeta lets StreamChanges reach the Meta embedded in a table's document type without
// decoding every document twice.
func (m *Meta) syncMeta() *Meta { return m }

type metaHolder interface{ syncMeta() *Meta }

// Kind is how a pulled record reaches the device: live (in "updated") or deleted.
type Kind int

// The kinds of a pulled record.
const (
	// KindLive is a record the user sees: the device creates it or merges it into its copy.
	KindLive Kind = iota + 1
	// KindDeleted is a record the user no longer sees (or that was deleted).
	KindDeleted
)

// Emit writes a record of the given kind: shorthand for Live or Deleted.
func (w *TableWriter) Emit(id string, rec any, kind Kind) error {
	if kind == KindLive {
		return w.Live(id, rec)
	}
	return w.Deleted(id)
}

// ChangesFilter returns the standard query of a table's changes for q (see StreamChanges).
func ChangesFilter(q Query) bson.D {
	if q.Since == 0 {
		return bson.D{
			{Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}},
			{Key: "_keys", Value: bson.D{{Key: "$in", Value: q.Keys}}},
		}
	}
	or := bson.A{bson.D{
		{Key: "_seq", Value: bson.D{{Key: "$gt", Value: q.Since}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "_keys", Value: bson.D{{Key: "$in", Value: q.Keys}}}},
			bson.D{{Key: "_former_keys", Value: bson.D{{Key: "$in", Value: q.Keys}}}},
		}},
	}}
	if len(q.Gained) > 0 {
		or = append(or, bson.D{{Key: "_keys", Value: bson.D{{Key: "$in", Value: q.Gained}}}})
	}
	if len(q.Lost) > 0 {
		or = append(or,
			bson.D{{Key: "_keys", Value: bson.D{{Key: "$in", Value: q.Lost}}}},
			bson.D{{Key: "_former_keys", Value: bson.D{{Key: "$in", Value: q.Lost}}}})
	}
	return bson.D{{Key: "$or", Value: or}}
}

// Classify says how a document with meta m reaches the device of q, and false when it need not
// be sent: live when it is visible and changed since the cursor or visible through a newly
// gained key (or on a first sync), deleted when it is a tombstone or no longer visible to a user
// who may have seen it.
func Classify(q Query, m *Meta) (Kind, bool) {
	visible := !m.Deleted && intersects(m.Keys, q.Keys)
	if q.Since == 0 {
		return KindLive, visible
	}
	changed := m.Seq > q.Since
	if visible {
		return KindLive, changed || intersects(m.Keys, q.Gained)
	}
	if changed && (intersects(m.Keys, q.Keys) || intersects(m.FormerKeys, q.Keys)) {
		return KindDeleted, true
	}
	if intersects(m.Keys, q.Lost) || intersects(m.FormerKeys, q.Lost) {
		return KindDeleted, true
	}
	return 0, false
}

// StreamChanges runs the standard query of a table's changes on coll and calls emit for every
// document q's user must receive, with its kind (see Classify). extra narrows the query (for
// example to one kind of document); T must embed Meta inline. The query is served by the index
// {_keys: 1, _seq: 1} on MongoDB (see MetaIndexes).
func StreamChanges[T any](ctx context.Context, coll *mongo.Collection, q Query, extra bson.D,
	emit func(doc *T, m *Meta, kind Kind) error,
) error {
	filter := ChangesFilter(q)
	if len(extra) > 0 {
		filter = bson.D{{Key: "$and", Value: bson.A{filter, extra}}}
	}
	cur, err := coll.Find(ctx, filter)
	if err != nil {
		return fmt.Errorf("pull %s: %w", coll.Name(), mongodb.Translate(err, coll.Name()))
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		if err := emitChanged(coll.Name(), cur.Current, q, emit); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("pull %s: %w", coll.Name(), mongodb.Translate(err, coll.Name()))
	}
	return nil
}

// ReadsByID reports whether a pull may read the records q names as changed (Query.Changed) by
// id with StreamByID instead of querying by cursor: the engine knows exactly which records
// changed since the cursor (Query.Exact), there are at most max of them, and no key was gained
// or lost since (those need every record of the key, changed or not).
func (q Query) ReadsByID(max int) bool {
	return q.Since > 0 && q.Exact && len(q.Gained) == 0 && len(q.Lost) == 0 && len(q.Changed) <= max
}

// StreamByID is StreamChanges for a pull that ReadsByID: it reads each of q.Changed by _id (the
// one query the stand-in FerretDB answers without reading the whole collection) and calls emit
// for those q's user must receive, classified as StreamChanges does. A record that no longer
// exists is skipped, as the cursor query would skip it.
func StreamByID[T any](ctx context.Context, coll *mongo.Collection, q Query,
	emit func(doc *T, m *Meta, kind Kind) error,
) error {
	for _, id := range q.Changed {
		raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		switch {
		case mongodb.IsNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("pull %s: %w", coll.Name(), mongodb.Translate(err, coll.Name()))
		}
		if err := emitChanged(coll.Name(), raw, q, emit); err != nil {
			return err
		}
	}
	return nil
}

// emitChanged decodes the document raw of collection coll and calls emit with it when q's user
// must receive it (see Classify).
func emitChanged[T any](coll string, raw bson.Raw, q Query, emit func(doc *T, m *Meta, kind Kind) error) error {
	doc := new(T)
	if err := bson.Unmarshal(raw, doc); err != nil {
		return fmt.Errorf("pull %s: decode: %w", coll, err)
	}
	m, err := metaOf(doc, raw)
	if err != nil {
		return fmt.Errorf("pull %s: decode meta: %w", coll, err)
	}
	if kind, ok := Classify(q, m); ok {
		return emit(doc, m, kind)
	}
	return nil
}

// metaOf returns the Meta embedded in doc, decoding it from raw when T does not embed it.
func metaOf(doc any, raw bson.Raw) (*Meta, error) {
	if h, ok := doc.(metaHolder); ok {
		return h.syncMeta(), nil
	}
	m := new(Meta)
	return m, bson.Unmarshal(raw, m)
}

// MetaIndexes are the indexes an engine-managed collection needs on MongoDB: the changes query
// by audience and sequence, and the tombstone purge.
func MetaIndexes() []mongo.IndexModel {
	return []mongo.IndexModel{
		{Keys: bson.D{{Key: "_keys", Value: 1}, {Key: "_seq", Value: 1}}},
		{Keys: bson.D{{Key: "_former_keys", Value: 1}, {Key: "_seq", Value: 1}}},
		{Keys: bson.D{{Key: "_deleted", Value: 1}, {Key: "_seq", Value: 1}}},
	}
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
