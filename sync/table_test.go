package datasync

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// notesTable is a test table shaped like feedback: author-owned records, private to the author
// and ops, optionally shared with a channel's testers.
type notesTable struct {
	db   *mongodb.DB
	now  func() time.Time
	hook func() // runs inside Push, between allocating the sequence and writing
}

type noteDoc struct {
	ID       string  `bson:"_id"`
	AuthorID string  `bson:"author_id"`
	Text     string  `bson:"text"`
	Channel  string  `bson:"channel,omitempty"`
	Category string  `bson:"category,omitempty"`
	AppID    string  `bson:"app_id,omitempty"`
	Build    int64   `bson:"build,omitempty"`
	Lat      float64 `bson:"lat,omitempty"`
	Lng      float64 `bson:"lng,omitempty"`
	Meta     `bson:",inline"`
}

// noteRecord is a note on the wire, with feedback's columns (category, app, build, location)
// so that benchmarks move records of feedback's size.
type noteRecord struct {
	ID       string  `json:"id"`
	AuthorID string  `json:"author_id,omitempty"`
	Text     string  `json:"text"`
	Channel  string  `json:"channel,omitempty"`
	Category string  `json:"category,omitempty"`
	AppID    string  `json:"app_id,omitempty"`
	Build    int64   `json:"build,omitempty"`
	Lat      float64 `json:"lat,omitempty"`
	Lng      float64 `json:"lng,omitempty"`
}

func (t *notesTable) Name() string { return "notes" }

func noteKeys(author, channel string) []string {
	keys := []string{UserKey(author), RoleKey(auth.RoleOps)}
	if channel != "" {
		keys = append(keys, ChannelKey("app", channel))
	}
	return keys
}

func (t *notesTable) Pull(ctx context.Context, q Query, out *TableWriter) error {
	return StreamChanges(ctx, t.db.Collection("notes"), q, nil, func(d *noteDoc, m *Meta, kind Kind) error {
		return out.Emit(d.ID, noteRecord{ID: d.ID, AuthorID: d.AuthorID, Text: d.Text, Channel: d.Channel,
			Category: d.Category, AppID: d.AppID, Build: d.Build, Lat: d.Lat, Lng: d.Lng}, kind)
	})
}

// Push inserts the created notes in one write without reading (the common case), then reads
// the documents the rest of the push names in one query (each query scans the collection on
// the embedded database), checks ownership and writes them one by one.
func (t *notesTable) Push(ctx context.Context, p *auth.Principal, seq int64, ch Changes) (Applied, error) {
	if t.hook != nil {
		t.hook()
	}
	var a Applied
	reject := func(id string, raw json.RawMessage, err error) error {
		if _, ok := apperr.As(err); !ok {
			return err
		}
		a.Rejected = append(a.Rejected, RejectionFrom(id, raw, err))
		return nil
	}
	// decode returns the record to write for raw, or a rejection.
	decode := func(raw json.RawMessage) (Record, error) {
		var r noteRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return Record{ID: r.ID}, apperr.Field("text", "a column has the wrong type")
		}
		if r.Text == "" {
			return Record{ID: r.ID}, apperr.Field("text", "text is required")
		}
		return Record{ID: r.ID, Keys: noteKeys(p.UserID, r.Channel),
			Set: bson.D{{Key: "text", Value: r.Text}, {Key: "channel", Value: r.Channel},
				{Key: "category", Value: r.Category}, {Key: "app_id", Value: r.AppID}, {Key: "build", Value: r.Build},
				{Key: "lat", Value: r.Lat}, {Key: "lng", Value: r.Lng}},
			SetOnInsert: bson.D{{Key: "author_id", Value: p.UserID}},
		}, nil
	}
	var fresh []Record
	var freshRaw []json.RawMessage
	var later []json.RawMessage // updates, and creates whose id exists
	for _, raw := range ch.Created {
		r, err := decode(raw)
		if err != nil {
			if err := reject(r.ID, raw, err); err != nil {
				return a, err
			}
			continue
		}
		fresh, freshRaw = append(fresh, r), append(freshRaw, raw)
	}
	existing, err := Insert(ctx, t.db.Collection("notes"), seq, t.now(), fresh)
	if err != nil {
		return a, err
	}
	for i, r := range fresh {
		if !slices.Contains(existing, i) {
			a.Touches = append(a.Touches, Touch{Table: "notes", Keys: r.Keys})
			a.Count++
		}
	}
	for _, i := range existing {
		later = append(later, freshRaw[i])
	}
	later = append(later, ch.Updated...)
	ids := bson.A{}
	for _, raw := range later {
		var r noteRecord
		_ = json.Unmarshal(raw, &r)
		ids = append(ids, r.ID)
	}
	for _, id := range ch.Deleted {
		ids = append(ids, id)
	}
	docs, err := t.load(ctx, ids)
	if err != nil {
		return a, err
	}
	write := func(r Record) error {
		d, ok := docs[r.ID]
		switch {
		case ok && d.AuthorID != p.UserID:
			return apperr.New(apperr.NotFound, "note not found")
		case ok:
			r.Prev = &d.Meta
		default:
			r.Prev = &Meta{}
		}
		touched, _, err := Upsert(ctx, t.db, t.db.Collection("notes"), seq, t.now(), r)
		if err != nil {
			return err
		}
		a.Touches = append(a.Touches, Touch{Table: "notes", Keys: touched})
		a.Count++
		return nil
	}
	for _, raw := range later {
		r, err := decode(raw)
		if err == nil {
			err = write(r)
		}
		if err != nil {
			if err := reject(r.ID, raw, err); err != nil {
				return a, err
			}
		}
	}
	for _, id := range ch.Deleted {
		if err := write(Record{ID: id, Delete: true}); err != nil {
			if err := reject(id, nil, err); err != nil {
				return a, err
			}
		}
	}
	return a, nil
}

func (t *notesTable) load(ctx context.Context, ids bson.A) (map[string]noteDoc, error) {
	if len(ids) == 0 {
		return nil, nil // even an empty $in scans the collection
	}
	cur, err := t.db.Collection("notes").Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, err
	}
	var docs []noteDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make(map[string]noteDoc, len(docs))
	for _, d := range docs {
		out[d.ID] = d
	}
	return out, nil
}

func (t *notesTable) PurgeTombstones(ctx context.Context, beforeSeq int64) error {
	return PurgeTombstones(ctx, t.db, "notes", beforeSeq)
}

// writeNote writes a note directly through the engine, as a domain service would.
func (t *notesTable) write(ctx context.Context, e *Engine, r Record, before func()) error {
	return e.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
		if before != nil {
			before()
		}
		touched, _, err := Upsert(ctx, t.db, t.db.Collection("notes"), seq, t.now(), r)
		return []Touch{{Table: "notes", Keys: touched}}, err
	})
}
