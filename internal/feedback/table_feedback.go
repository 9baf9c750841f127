package feedback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// feedbackTable is the "feedback" sync table: the author's own feedback, and feedback shared
// with a channel the user tests. Ops see everything through REST instead.
type feedbackTable struct{ s *Service }

var _ datasync.Table = feedbackTable{}

// Name implements datasync.Table.
func (feedbackTable) Name() string { return feedbackColl }

// Pull implements datasync.Table.
func (t feedbackTable) Pull(ctx context.Context, q datasync.Query, out *datasync.TableWriter) error {
	if cached, err := t.pullCached(ctx, q, out); cached {
		return err
	}
	emit := func(d *feedbackDoc, _ *datasync.Meta, kind datasync.Kind) error {
		return out.Emit(d.ID, t.s.record(d, q.User), kind)
	}
	if q.ReadsByID(maxExactReads) {
		return datasync.StreamByID(ctx, t.s.coll(feedbackColl), q, emit)
	}
	return datasync.StreamChanges(ctx, t.s.coll(feedbackColl), q, nil, emit)
}

// maxExactReads bounds the records an incremental pull of a feedback table reads one by one,
// by id, when the sync engine named them (datasync.Query.Exact; pushes name the records they
// write). On MongoDB the cursor query uses the {_keys, _seq} index either way; on the stand-in
// FerretDB, which pushes down only a filter on _id alone, it reads the whole collection, which
// under a fan-out to 10,000 devices held sync pulls for seconds (internal/chaos/README.md).
const maxExactReads = 64

// pushBatch is one push's work on the feedback table.
type pushBatch struct {
	tally
	s    *Service
	p    *auth.Principal
	seq  int64
	name string
	// deleted are the keys of deleted feedback, whose comments and attachments went with it.
	deleted []string
	// held are the author's audience keys, read by the first shared record (see share.go).
	held []string
}

// result is the batch's tally; deleting feedback deleted its comments and attachments too.
func (b *pushBatch) result() datasync.Applied {
	b.tally.result(feedbackColl)
	if len(b.deleted) > 0 {
		b.applied.Touches = append(b.applied.Touches, datasync.Touch{Table: commentsColl, Keys: b.deleted},
			datasync.Touch{Table: attachmentsColl, Keys: b.deleted})
	}
	return b.applied
}

// Push applies the caller's pushed feedback. New records are inserted in one unordered batch;
// a record whose id exists is an update of the caller's own record (a replayed push) or, when it
// is someone else's, a not_found rejection that leaves their record untouched.
func (t feedbackTable) Push(ctx context.Context, p *auth.Principal, seq int64, ch datasync.Changes) (datasync.Applied, error) {
	b := &pushBatch{s: t.s, p: p, seq: seq}
	if len(ch.Created)+len(ch.Updated) > 0 {
		name, err := t.s.authorName(ctx, p.UserID)
		if err != nil {
			return datasync.Applied{}, err
		}
		b.name = name
	}
	if err := b.create(ctx, ch.Created); err != nil {
		return datasync.Applied{}, err
	}
	// Edits and deletes are written one after another: SQLite takes one writer at a time, and
	// four concurrent writers measured slower (756 against 948-989 edits/s, 2026-12-04). On an
	// error that is not a record's fault, what was written is returned with it, so that the
	// engine logs it.
	for _, raw := range ch.Updated {
		if err := b.upsert(ctx, raw); err != nil {
			return b.result(), err
		}
	}
	var deletedIDs []string
	for _, id := range ch.Deleted {
		keys, err := t.s.deleteOwn(ctx, p, seq, id)
		if err != nil {
			if err := b.rejected(id, mustJSON(id), err); err != nil {
				return b.result(), err
			}
			continue
		}
		deletedIDs = append(deletedIDs, id)
		b.touched(id, keys)
		for _, k := range keys {
			if !slices.Contains(b.deleted, k) {
				b.deleted = append(b.deleted, k)
			}
		}
	}
	// Should the process die before this, the push was not answered and the app sends it
	// again: a replayed delete of its own tombstone is accepted and reaches this line.
	if err := t.s.tombstoneChildren(ctx, deletedIDs, seq); err != nil {
		return b.result(), err
	}
	return b.result(), nil
}

// create inserts the valid new records in one unordered InsertMany; those whose id exists go
// through upsert.
func (b *pushBatch) create(ctx context.Context, created []json.RawMessage) error {
	var docs []any
	var raws []json.RawMessage
	for _, raw := range created {
		var r feedbackRecord
		err := decodeRecord(raw, &r)
		if err == nil {
			err = checkFeedback(&r, b.s.Now.Stored())
		}
		if err == nil && r.ShareWithTesters {
			var keys []string
			if keys, err = b.heldKeys(ctx); err != nil {
				return err
			}
			if err = b.s.mayShare(ctx, b.p, &r, keys); err != nil {
				// Not a member (any more): unless this replays a create that was shared while
				// they were, upsert rejects it.
				if err := b.upsert(ctx, raw); err != nil {
					return err
				}
				continue
			}
		}
		if err != nil {
			if err := b.rejected(r.ID, raw, err); err != nil {
				return err
			}
			continue
		}
		docs = append(docs, b.s.newFeedback(ctx, b.p, b.name, &r, b.seq))
		raws = append(raws, raw)
	}
	if len(docs) == 0 {
		return nil
	}
	// Through DB.InsertMany: the records of concurrent pushes (a group commit's) go to the
	// embedded database in one command.
	err := b.s.DB.InsertMany(ctx, feedbackColl, docs)
	existing := map[int]bool{}
	if err != nil {
		var bulk mongo.BulkWriteException
		if !errors.As(err, &bulk) || bulk.WriteConcernError != nil {
			return fmt.Errorf("insert feedback: %w", mongodb.Translate(err, "feedback"))
		}
		for _, we := range bulk.WriteErrors {
			if !duplicateKey(we) {
				return fmt.Errorf("insert feedback: %w", mongodb.Translate(err, "feedback"))
			}
			existing[we.Index] = true
		}
	}
	for i, doc := range docs {
		if !existing[i] {
			d := doc.(*feedbackDoc)
			b.s.recordUsage(b.p.UserID, b.p.DeviceID, "feedback_created", map[string]string{"feedback_id": d.ID, "category": d.Category})
			b.s.cache.add(d)
			b.touched(d.ID, d.Keys)
			continue
		}
		if err := b.upsert(ctx, raws[i]); err != nil {
			return err
		}
	}
	return nil
}

// duplicateKey reports whether one write of a bulk insert failed on the unique _id index.
func duplicateKey(we mongo.BulkWriteError) bool {
	return mongodb.IsDuplicateKey(mongo.WriteException{WriteErrors: []mongo.WriteError{we.WriteError}})
}

// upsert applies one record as an update of the caller's own feedback, creating it when it
// does not exist yet (an update pushed before its create reached the server).
func (b *pushBatch) upsert(ctx context.Context, raw json.RawMessage) error {
	var r feedbackRecord
	err := decodeRecord(raw, &r)
	if err == nil {
		err = checkFeedback(&r, b.s.Now.Stored())
	}
	if err == nil {
		var keys []string
		if keys, err = b.s.writeOwn(ctx, b.p, b.name, &r, b.seq); err == nil {
			b.touched(r.ID, keys)
			return nil
		}
	}
	return b.rejected(r.ID, raw, err)
}

// newFeedback is the document of a new record pushed by p. The snapshot's app id is stored as
// the app's catalogue id when the app sent its package name or bundle id (what its device
// check-in reports), so that ops filter by one id and testers of that app's channel see it.
func (s *Service) newFeedback(ctx context.Context, p *auth.Principal, name string, r *feedbackRecord, seq int64) *feedbackDoc {
	if s.Apps != nil {
		r.AppID = s.Apps.CatalogID(ctx, r.AppID)
	}
	shared := r.ShareWithTesters && shareable(r.Channel)
	d := &feedbackDoc{
		ID: r.ID, Category: r.Category, Text: r.Text, Latitude: r.Latitude, Longitude: r.Longitude,
		AccuracyM: r.AccuracyM, CreatedAt: r.CreatedAt, Shared: shared, Status: StatusNew,
		Snapshot: Snapshot{AppID: r.AppID, Build: r.Build, Version: r.Version, Channel: r.Channel,
			Platform: r.Platform, DeviceModel: r.DeviceModel, OSVersion: r.OSVersion},
		AuthorID: p.UserID, AuthorName: name, Department: p.Department, ReceivedAt: s.Now.Stored(),
	}
	d.Meta = datasync.Meta{Seq: seq, CreatedSeq: seq, Keys: feedbackKeys(p.UserID, shared, r.AppID, r.Channel), UpdatedAt: s.Now.Stored()}
	return d
}

// writeOwn applies the author-owned columns of r to the caller's feedback, or creates it. The
// whole author-owned set is replaced: of two devices' conflicting edits the later push wins.
// Ops-owned fields are never written here. It returns the record's keys; not_found when the id
// is someone else's and conflict when the feedback was deleted.
func (s *Service) writeOwn(ctx context.Context, p *auth.Principal, name string, r *feedbackRecord, seq int64) ([]string, error) {
	unlock := s.DB.Lock(lockKey(r.ID))
	defer unlock()
	fromDB := false
	for range 3 {
		var d feedbackDoc
		var err error
		if fromDB {
			err = s.findByID(ctx, feedbackColl, r.ID, "feedback", &d)
		} else {
			err = s.loadFeedback(ctx, r.ID, &d)
		}
		if apperr.Is(err, apperr.NotFound) {
			if err := s.mayShare(ctx, p, r, nil); err != nil {
				return nil, err
			}
			doc := s.newFeedback(ctx, p, name, r, seq)
			_, err := s.coll(feedbackColl).InsertOne(ctx, doc)
			if mongodb.IsDuplicateKey(err) {
				// A concurrent copy of this push created it, and may not have put it in the
				// in-memory copy yet: read the database and update it instead.
				fromDB = true
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("insert feedback %s: %w", r.ID, mongodb.Translate(err, "feedback"))
			}
			s.cache.put(doc)
			return doc.Keys, nil
		}
		if err != nil {
			return nil, err
		}
		if d.AuthorID != p.UserID {
			return nil, apperr.New(apperr.NotFound, "feedback not found")
		}
		if d.Deleted {
			return nil, apperr.New(apperr.Conflict, "this feedback was deleted")
		}
		if !open(d.Status) && (d.Text != r.Text || d.Category != r.Category || !sameLocation(&d, r)) {
			// Closed by ops (resolved, won't fix, a duplicate): an edit now would pair their
			// resolution with a report they never read. The edit goes back to the app's rejects.
			return nil, apperr.New(apperr.Conflict, "this feedback was closed (%s) by ops; add a comment or send new feedback", d.Status)
		}
		if err := sameSharing(r, &d); err != nil {
			return nil, err
		}
		res, err := s.coll(feedbackColl).UpdateOne(ctx,
			s.byID(r.ID, bson.E{Key: "author_id", Value: p.UserID}, bson.E{Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}}),
			bson.D{
				{Key: "$set", Value: bson.D{
					{Key: "category", Value: r.Category}, {Key: "text", Value: r.Text},
					{Key: "latitude", Value: r.Latitude}, {Key: "longitude", Value: r.Longitude},
					{Key: "accuracy_m", Value: r.AccuracyM}, {Key: "_updated_at", Value: s.Now.Stored()},
				}},
				{Key: "$max", Value: bson.D{{Key: "_seq", Value: seq}}},
			})
		if err != nil {
			return nil, fmt.Errorf("update feedback %s: %w", r.ID, mongodb.Translate(err, "feedback"))
		}
		if res.MatchedCount == 0 {
			return nil, apperr.New(apperr.Conflict, "this feedback was deleted")
		}
		d.Category, d.Text, d.Latitude, d.Longitude, d.AccuracyM = r.Category, r.Text, r.Latitude, r.Longitude, r.AccuracyM
		d.Seq, d.UpdatedAt = max(d.Seq, seq), s.Now.Stored()
		s.cache.put(&d)
		return d.Keys, nil
	}
	return nil, fmt.Errorf("write feedback %s: too many concurrent writers", r.ID)
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// sameLocation reports whether r carries the location stored in d.
func sameLocation(d *feedbackDoc, r *feedbackRecord) bool {
	eq := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	return eq(d.Latitude, r.Latitude) && eq(d.Longitude, r.Longitude) && eq(d.AccuracyM, r.AccuracyM)
}
