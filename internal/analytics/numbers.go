package analytics

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// numberDoc gives a pseudonym its dense number, the position of its bit in the rollups' bitmaps.
// Each is assigned once: the insert is guarded by the _id (one number per pseudonym) and by the
// unique index on (kind, n) (one pseudonym per number).
type numberDoc struct {
	ID    string    `bson:"_id"` // kind + ":" + pseudonym
	Kind  string    `bson:"kind"`
	N     uint32    `bson:"n"`
	First time.Time `bson:"first"` // when the first event of the pseudonym was stored
}

// numbers caches every assigned number; they never change once assigned.
type numbers struct {
	coll  *mongo.Collection
	mu    sync.Mutex
	byKey map[string]uint32
	first map[string]time.Time
	next  map[string]uint32 // kind -> a guess at the next free number
}

func (n *numbers) load(ctx context.Context) error {
	docs, err := mongodb.FindAll[numberDoc](ctx, n.coll, bson.D{}, "analytics number")
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.next = map[string]uint32{}
	for _, d := range docs {
		n.remember(d)
	}
	return nil
}

func (n *numbers) remember(d numberDoc) {
	n.byKey[d.ID] = d.N
	n.first[d.ID] = d.First
	if n.next == nil {
		n.next = map[string]uint32{}
	}
	if d.N >= n.next[d.Kind] {
		n.next[d.Kind] = d.N + 1
	}
}

// get returns the number of kind:pseudonym, assigning the next free one on first use. Another
// instance may take the guessed number first: the unique index refuses the second insert and
// the loop moves on to the number after the highest one stored.
func (n *numbers) get(ctx context.Context, kind, pseudonym string, at time.Time) (uint32, error) {
	key := kind + ":" + pseudonym
	n.mu.Lock()
	defer n.mu.Unlock() // assignments are rare (once per user or device ever): serialize them
	if v, ok := n.byKey[key]; ok {
		return v, nil
	}
	for range 64 {
		doc := numberDoc{ID: key, Kind: kind, N: n.next[kind], First: at}
		_, err := n.coll.InsertOne(ctx, doc)
		if err == nil {
			n.remember(doc)
			return doc.N, nil
		}
		if !mongodb.IsDuplicateKey(err) {
			return 0, fmt.Errorf("assign analytics number: %w", mongodb.Translate(err, "analytics number"))
		}
		var stored numberDoc
		switch err := n.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&stored); {
		case err == nil: // another instance numbered this pseudonym first
			n.remember(stored)
			return stored.N, nil
		case !mongodb.IsNotFound(err):
			return 0, fmt.Errorf("assign analytics number: %w", mongodb.Translate(err, "analytics number"))
		}
		var top numberDoc
		err = n.coll.FindOne(ctx, bson.D{{Key: "kind", Value: kind}}, options.FindOne().SetSort(bson.D{{Key: "n", Value: -1}})).Decode(&top)
		if err != nil {
			return 0, fmt.Errorf("assign analytics number: %w", mongodb.Translate(err, "analytics number"))
		}
		n.next[kind] = max(n.next[kind]+1, top.N+1)
	}
	return 0, apperr.New(apperr.Unavailable, "too many concurrent number assignments, try again")
}

// firstSeen returns when the pseudonym's first event was stored.
func (n *numbers) firstSeen(kind, pseudonym string) (time.Time, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.first[kind+":"+pseudonym]
	return t, ok
}

// lookup returns the number of kind:pseudonym if one was assigned.
func (n *numbers) lookup(kind, pseudonym string) (uint32, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	v, ok := n.byKey[kind+":"+pseudonym]
	return v, ok
}
