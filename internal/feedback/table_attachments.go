package feedback

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// attachmentsTable is the "feedback_attachments" sync table. The author creates an attachment
// record (pending) by push once its feedback has synced, then uploads the photo with tus; the
// upload's completion sets it complete, which the next pull shows. Attachments have their
// feedback's keys.
type attachmentsTable struct{ s *Service }

var _ datasync.Table = attachmentsTable{}

// Name implements datasync.Table.
func (attachmentsTable) Name() string { return attachmentsColl }

// Pull implements datasync.Table.
func (t attachmentsTable) Pull(ctx context.Context, q datasync.Query, out *datasync.TableWriter) error {
	emit := func(d *attachmentDoc, _ *datasync.Meta, kind datasync.Kind) error {
		return out.Emit(d.ID, attachmentRecordOf(d), kind)
	}
	if q.ReadsByID(maxExactReads) { // pushes name their records
		return datasync.StreamByID(ctx, t.s.coll(attachmentsColl), q, emit)
	}
	return datasync.StreamChanges(ctx, t.s.coll(attachmentsColl), q, nil, emit)
}

// Push creates the caller's attachment records; an update of an existing one changes nothing
// (its columns are fixed at creation, its status is the server's) and is accepted, so replays
// are harmless. Deleting one tombstones it and removes its object.
func (t attachmentsTable) Push(ctx context.Context, p *auth.Principal, seq int64, ch datasync.Changes) (datasync.Applied, error) {
	tl, err := childPush[attachmentRecord]{
		id:     func(r *attachmentRecord) string { return r.ID },
		check:  func(r *attachmentRecord) error { return checkAttachment(r, t.s.Now.Stored()) },
		write:  func(r *attachmentRecord) ([]string, error) { return t.s.createAttachment(ctx, p, r, seq) },
		remove: func(id string) ([]string, error) { return t.s.deleteAttachment(ctx, p, id, seq) },
	}.apply(ch)
	if err != nil {
		return datasync.Applied{}, err
	}
	return tl.result(attachmentsColl), nil
}

// createAttachment inserts a pending attachment of the caller's own feedback, at most
// MaxAttachments per feedback (counted from the records under the feedback's lock). An id that
// exists is accepted when it is the caller's (a replay) and not_found otherwise.
func (s *Service) createAttachment(ctx context.Context, p *auth.Principal, r *attachmentRecord, seq int64) ([]string, error) {
	parent, err := s.liveFeedback(ctx, r.FeedbackID)
	if err == nil && parent.AuthorID != p.UserID {
		err = apperr.New(apperr.NotFound, "feedback not found")
	}
	if apperr.Is(err, apperr.NotFound) {
		return nil, &apperr.Error{Code: apperr.NotFound, Field: "feedback_id", Message: "feedback not found"}
	}
	if err != nil {
		return nil, err
	}
	for range 2 {
		if found, err := s.restampAttachment(ctx, p, r, seq); found || err != nil {
			return parent.Keys, err
		}
		inserted, err := s.insertAttachment(ctx, p, r, parent, seq)
		if inserted || err != nil {
			return parent.Keys, err
		}
		// A concurrent copy of this push inserted it meanwhile: restamp that one.
	}
	return nil, fmt.Errorf("create attachment %s: too many concurrent writers", r.ID)
}

// restampAttachment handles a replayed attachment record: it reports whether the id exists,
// and restamps it when it is the caller's. Every write of an existing attachment holds its
// lock, so a replay cannot overwrite a concurrent completion.
func (s *Service) restampAttachment(ctx context.Context, p *auth.Principal, r *attachmentRecord, seq int64) (bool, error) {
	unlock := s.DB.Lock(childLockKey(attachmentsColl, r.ID))
	defer unlock()
	var old attachmentDoc
	err := s.findByID(ctx, attachmentsColl, r.ID, "attachment", &old)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return false, nil
	case err != nil:
		return true, err
	case old.AuthorID != p.UserID || old.FeedbackID != r.FeedbackID:
		return true, apperr.New(apperr.NotFound, "attachment not found")
	case old.Deleted:
		return true, apperr.New(apperr.Conflict, "this attachment was deleted")
	}
	return true, s.stamp(ctx, attachmentsColl, r.ID, seq)
}

// insertAttachment inserts a new pending attachment under its feedback's lock, which makes the
// count and the insert one step; false when the id exists.
func (s *Service) insertAttachment(ctx context.Context, p *auth.Principal, r *attachmentRecord, parent *feedbackDoc, seq int64) (bool, error) {
	unlock := s.DB.Lock(lockKey(parent.ID))
	defer unlock()
	n, err := s.coll(attachmentsColl).CountDocuments(ctx, bson.D{
		{Key: "feedback_id", Value: r.FeedbackID}, {Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}},
	})
	if err != nil {
		return false, fmt.Errorf("count attachments: %w", mongodb.Translate(err, "attachment"))
	}
	if n >= MaxAttachments {
		return false, apperr.New(apperr.Conflict, "feedback may have at most %d attachments", MaxAttachments)
	}
	doc := &attachmentDoc{ID: r.ID, FeedbackID: r.FeedbackID, AuthorID: p.UserID, Filename: r.Filename,
		ContentType: r.ContentType, Size: r.Size, Status: AttachmentPending, CreatedAt: r.CreatedAt}
	doc.Meta = datasync.Meta{Seq: seq, CreatedSeq: seq, Keys: parent.Keys, UpdatedAt: s.Now.Stored()}
	_, err = s.coll(attachmentsColl).InsertOne(ctx, doc)
	switch {
	case mongodb.IsDuplicateKey(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("insert attachment %s: %w", r.ID, mongodb.Translate(err, "attachment"))
	}
	return true, nil
}

// deleteAttachment tombstones the caller's attachment and deletes its object; not_found for
// anyone else's live attachment and datasync.Gone (accepted as a no-op) for an unknown id or
// anyone else's deleted attachment.
func (s *Service) deleteAttachment(ctx context.Context, p *auth.Principal, id string, seq int64) ([]string, error) {
	unlock := s.DB.Lock(childLockKey(attachmentsColl, id))
	var old attachmentDoc
	err := s.findByID(ctx, attachmentsColl, id, "attachment", &old)
	switch {
	case apperr.Is(err, apperr.NotFound) || err == nil && old.AuthorID != p.UserID && old.Deleted:
		err = datasync.Gone("attachment")
	case err == nil && old.AuthorID != p.UserID:
		err = apperr.New(apperr.NotFound, "attachment not found")
	}
	if err == nil { // a replay restamps the tombstone, like deleteOwn
		err = s.tombstone(ctx, attachmentsColl, bson.D{{Key: "_id", Value: id}}, seq)
	}
	unlock()
	if err != nil {
		return nil, err
	}
	s.deletePhoto(ctx, id, old.Bucket, old.ObjectKey)
	return old.Keys, nil
}
