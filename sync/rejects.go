package datasync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// MaxRejects is how many rejects Rejects lists (the oldest); a user with more dismisses some to
// see the rest.
const MaxRejects = 500

// maxRejectRecord is the most of a rejected record's JSON text kept (beyond, its start, marked
// truncated): a valid record is far smaller (feedback text is at most 5,000 characters), and
// whole records of up to a 1 MiB body each made a user's 1,000 rejects weigh up to a gigabyte.
const maxRejectRecord = 64 << 10

// maxRejectsListed bounds the records' bytes Rejects lists (it stops after the reject that
// reaches it), so one listing holds a few MiB of records, not 500 of the largest.
const maxRejectsListed = 4 << 20

// Reject is a pushed record the server did not apply, kept until its user dismisses it so that
// nothing written on a device is silently lost.
type Reject struct {
	ID       string          `json:"id"`
	Table    string          `json:"table"`
	RecordID string          `json:"record_id"`
	Record   json.RawMessage `json:"record"`
	// RecordTruncated says Record is the start of the pushed JSON text, as a string: the record
	// was larger than maxRejectRecord.
	RecordTruncated bool        `json:"record_truncated,omitempty"`
	Code            apperr.Code `json:"code"`
	Detail          string      `json:"detail"`
	Field           string      `json:"field,omitempty"`
	At              time.Time   `json:"at"`
}

// storedReject is a sync_rejects document. The record is kept as the JSON text the device sent.
type storedReject struct {
	ID       string      `bson:"_id"`
	UserID   string      `bson:"user_id"`
	Table    string      `bson:"table"`
	RecordID string      `bson:"record_id"`
	Record   string      `bson:"record"`
	Cut      bool        `bson:"cut,omitempty"` // Record is the start of the pushed text
	Code     apperr.Code `bson:"code"`
	Detail   string      `bson:"detail"`
	Field    string      `bson:"field,omitempty"`
	At       time.Time   `bson:"at"`
}

// newReject builds the stored form of r. Its id is a hash of who pushed what, so a replayed
// push stores a rejected record once.
func (e *Engine) newReject(userID, table string, r Rejection) storedReject {
	raw := r.Raw
	if len(raw) == 0 {
		raw, _ = json.Marshal(r.ID)
	}
	h := sha256.New()
	for _, part := range []string{userID, table, r.ID, string(raw), string(r.Code)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	rec, cut := string(raw), false
	if len(rec) > maxRejectRecord {
		rec, cut = strings.ToValidUTF8(rec[:maxRejectRecord], ""), true
	}
	return storedReject{ID: hex.EncodeToString(h.Sum(nil))[:24], UserID: userID, Table: table, RecordID: r.ID,
		Record: rec, Cut: cut, Code: r.Code, Detail: r.Detail, Field: r.Field, At: e.Now.Stored()}
}

// maxStoredRejects bounds the rejects kept for one user. Only dismissing removes a reject, so
// without a bound a device pushing records it may not write (a read-only table, ~90,000 tiny
// records in a 1 MiB body) added that many documents with every push.
const maxStoredRejects = 2 * MaxRejects

// storeRejects stores a push's rejects of userID while the user has fewer than
// maxStoredRejects; those beyond are answered but not kept, and lose their ID (no reject_id).
func (e *Engine) storeRejects(ctx context.Context, userID string, rejects []storedReject) error {
	if len(rejects) == 0 {
		return nil
	}
	kept, err := e.DB.Collection(rejectsColl).CountDocuments(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		return fmt.Errorf("count rejects of %s: %w", userID, mongodb.Translate(err, "sync reject"))
	}
	for i := range rejects {
		r := &rejects[i]
		if kept >= maxStoredRejects {
			r.ID = ""
			continue
		}
		switch _, err := e.DB.Collection(rejectsColl).InsertOne(ctx, r); {
		case err == nil:
			kept++
		case !mongodb.IsDuplicateKey(err):
			return fmt.Errorf("store reject of %s/%s: %w", r.Table, r.RecordID, mongodb.Translate(err, "sync reject"))
		}
	}
	return nil
}

// Rejects lists the caller's rejected records, oldest first (at most MaxRejects, and no more
// once maxRejectsListed bytes of records are listed). It returns
// unauthorized without a principal and unavailable when the database cannot be reached.
func (e *Engine) Rejects(ctx context.Context, p *auth.Principal) (out []Reject, err error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	defer apperr.Wrapf(&err, "list sync rejects of %s", p.UserID)
	cur, err := e.DB.Collection(rejectsColl).Find(ctx, bson.D{{Key: "user_id", Value: p.UserID}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(MaxRejects))
	if err != nil {
		return nil, mongodb.Translate(err, "sync reject")
	}
	defer cur.Close(ctx)
	out = []Reject{}
	for listed := 0; listed < maxRejectsListed && cur.Next(ctx); {
		var d storedReject
		if err := cur.Decode(&d); err != nil {
			return nil, mongodb.Translate(err, "sync reject")
		}
		rec := json.RawMessage(d.Record)
		if d.Cut || !json.Valid(rec) {
			rec, _ = json.Marshal(d.Record)
		}
		listed += len(rec)
		out = append(out, Reject{ID: d.ID, Table: d.Table, RecordID: d.RecordID, Record: rec, RecordTruncated: d.Cut,
			Code: d.Code, Detail: d.Detail, Field: d.Field, At: d.At.UTC()})
	}
	if err := cur.Err(); err != nil {
		return nil, mongodb.Translate(err, "sync reject")
	}
	return out, nil
}

// DismissReject deletes one of the caller's rejects. It returns unauthorized without a
// principal, not_found for a reject that does not exist or is someone else's, and unavailable
// when the database cannot be reached.
func (e *Engine) DismissReject(ctx context.Context, p *auth.Principal, id string) (err error) {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "authentication required")
	}
	defer apperr.Wrapf(&err, "dismiss sync reject %s", id)
	res, err := e.DB.Collection(rejectsColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: p.UserID}})
	if err != nil {
		return mongodb.Translate(err, "sync reject")
	}
	if res.DeletedCount == 0 {
		return apperr.New(apperr.NotFound, "sync reject not found")
	}
	return nil
}
