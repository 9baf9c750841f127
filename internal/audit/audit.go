// Package audit keeps the log of what ops and admins changed through the web console: who,
// what, when, and the object before and after. It owns the collection "audit_log"; entries are
// only ever inserted (one insert per action, so concurrent writers on the embedded FerretDB
// cannot lose one), and only admins read or export them.
package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/csvcell"
	"github.com/mportal/mportal/internal/mongodb"
)

// coll is the audit collection, one document per action.
const coll = "audit_log"

// MaxList is the most entries List returns: the newest ones.
const MaxList = 500

// Entry is one audited action.
type Entry struct {
	ID string    `json:"id" bson:"_id"`
	At time.Time `json:"at" bson:"at"`
	// ActorID is the user who acted; Via says where ("console").
	ActorID string `json:"actor_id" bson:"actor_id"`
	Via     string `json:"via" bson:"via"`
	// Action is a dotted verb ("console.sign_in", "user.disable"); Target the object's id.
	Action string `json:"action" bson:"action"`
	Target string `json:"target" bson:"target"`
	// Before and After are the object as JSON text ("" when there was none).
	Before string `json:"before" bson:"before"`
	After  string `json:"after" bson:"after"`
}

// Log records and lists audit entries.
type Log struct {
	DB *mongodb.DB
	// Now is the clock; nil means time.Now.
	Now clock.Func
}

func (l *Log) coll() *mongo.Collection { return l.DB.Collection(coll) }

// EnsureIndexes creates the index List sorts by.
func (l *Log) EnsureIndexes(ctx context.Context) error {
	return mongodb.EnsureIndexes(ctx, l.coll(), mongo.IndexModel{Keys: bson.D{{Key: "at", Value: -1}}})
}

// Record stores one action of actor, with the object before and after it (nil for none),
// encoded as JSON. It returns unauthorized without an actor, invalid for an empty action and
// unavailable when the database cannot be reached.
func (l *Log) Record(ctx context.Context, actor *auth.Principal, via, action, target string, before, after any) error {
	e, err := l.NewEntry(actor, via, action, target, before, after)
	if err != nil {
		return err
	}
	return l.Insert(ctx, e)
}

// NewEntry builds the entry Record would insert, with its id: a caller that tries an insert
// again inserts the same entry (Insert), so an insert that was written but whose answer was
// lost is not written twice. It returns unauthorized without an actor and invalid without an
// action.
func (l *Log) NewEntry(actor *auth.Principal, via, action, target string, before, after any) (*Entry, error) {
	if actor == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if action == "" {
		return nil, apperr.Field("action", "action must not be empty")
	}
	e := &Entry{ID: bson.NewObjectID().Hex(), At: l.Now.Stored(), ActorID: actor.UserID, Via: via, Action: action, Target: target}
	var err error
	if e.Before, err = encode(before); err != nil {
		return nil, err
	}
	if e.After, err = encode(after); err != nil {
		return nil, err
	}
	return e, nil
}

// Insert stores e; an entry already stored under its id (an earlier attempt that was written)
// is success. It returns unavailable when the database cannot be reached.
func (l *Log) Insert(ctx context.Context, e *Entry) error {
	_, err := l.coll().InsertOne(ctx, e)
	if mongodb.IsDuplicateKey(err) { // this entry, stored before, or another index refusing it
		if ferr := l.coll().FindOne(ctx, bson.D{{Key: "_id", Value: e.ID}}).Err(); ferr == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("record %s: %w", e.Action, mongodb.Translate(err, "audit entry"))
	}
	return nil
}

func encode(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode audited object: %w", err)
	}
	return string(b), nil
}

// List returns the newest entries (at most MaxList), newest first. Forbidden unless actor is
// an admin.
func (l *Log) List(ctx context.Context, actor *auth.Principal) ([]Entry, error) {
	if err := auth.RequireRole(actor, auth.RoleAdmin); err != nil {
		return nil, err
	}
	return mongodb.FindAll[Entry](ctx, l.coll(), bson.D{}, "audit entries",
		options.Find().SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(MaxList))
}

// WriteCSV writes the entries List returns as CSV with a header row. Forbidden unless actor
// is an admin.
func (l *Log) WriteCSV(ctx context.Context, actor *auth.Principal, w io.Writer) error {
	entries, err := l.List(ctx, actor)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"at", "actor_id", "via", "action", "target", "before", "after"})
	for _, e := range entries {
		_ = cw.Write([]string{e.At.UTC().Format(time.RFC3339), csvcell.Safe(e.ActorID), csvcell.Safe(e.Via), csvcell.Safe(e.Action),
			csvcell.Safe(e.Target), csvcell.Safe(e.Before), csvcell.Safe(e.After)})
	}
	cw.Flush()
	return cw.Error()
}
