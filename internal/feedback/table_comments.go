package feedback

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// commentsTable is the "feedback_comments" sync table. Comments have their feedback's keys, so
// whoever sees the feedback sees its comments. The author and the testers of shared feedback
// write comments by push; ops replies come from the REST reply endpoint.
type commentsTable struct{ s *Service }

var _ datasync.Table = commentsTable{}

// Name implements datasync.Table.
func (commentsTable) Name() string { return commentsColl }

// Pull implements datasync.Table.
func (t commentsTable) Pull(ctx context.Context, q datasync.Query, out *datasync.TableWriter) error {
	emit := func(d *commentDoc, _ *datasync.Meta, kind datasync.Kind) error {
		return out.Emit(d.ID, commentRecordOf(d), kind)
	}
	if q.ReadsByID(maxExactReads) { // pushes name their records
		return datasync.StreamByID(ctx, t.s.coll(commentsColl), q, emit)
	}
	return datasync.StreamChanges(ctx, t.s.coll(commentsColl), q, nil, emit)
}

// Push implements datasync.Table.
func (t commentsTable) Push(ctx context.Context, p *auth.Principal, seq int64, ch datasync.Changes) (datasync.Applied, error) {
	held, err := t.s.heldKeys(ctx, p)
	if err != nil {
		return datasync.Applied{}, err
	}
	w := commentWriter{s: t.s, p: p, held: held, seq: seq}
	tl, err := childPush[commentRecord]{
		id:     func(r *commentRecord) string { return r.ID },
		check:  func(r *commentRecord) error { return checkComment(r, t.s.Now.Stored()) },
		write:  func(r *commentRecord) ([]string, error) { return w.write(ctx, r) },
		remove: func(id string) ([]string, error) { return w.delete(ctx, id) },
	}.apply(ch)
	if err != nil {
		return datasync.Applied{}, err
	}
	a := tl.result(commentsColl)
	if len(w.parents.Keys) > 0 { // their feedback's comment_count changed too
		a.Touches = append(a.Touches, w.parents)
	}
	return a, nil
}

// commentWriter applies one user's pushed comments.
type commentWriter struct {
	s    *Service
	p    *auth.Principal
	held []string
	seq  int64
	name *string
	// parents names the feedback records whose comment_count the push changed (restamped).
	parents datasync.Touch
}

// restamped notes that the comments' feedback id, with keys, was restamped.
func (w *commentWriter) restamped(id string, keys []string) {
	w.parents.Table = feedbackColl
	for _, k := range keys {
		if !slices.Contains(w.parents.Keys, k) {
			w.parents.Keys = append(w.parents.Keys, k)
		}
		r := datasync.TouchedRecord{Key: k, ID: id}
		if !slices.Contains(w.parents.Records, r) {
			w.parents.Records = append(w.parents.Records, r)
		}
	}
}

// write creates the comment or, when it is the caller's and exists, replaces its text. It
// returns the keys it touched; not_found for a comment of someone else's or on feedback the
// caller cannot see.
func (w *commentWriter) write(ctx context.Context, r *commentRecord) ([]string, error) {
	parent, err := w.s.liveFeedback(ctx, r.FeedbackID)
	if err == nil && !canSee(w.p, w.held, parent) {
		err = apperr.New(apperr.NotFound, "feedback not found")
	}
	if apperr.Is(err, apperr.NotFound) {
		return nil, &apperr.Error{Code: apperr.NotFound, Field: "feedback_id", Message: "feedback not found"}
	}
	if err != nil {
		return nil, err
	}
	if w.name == nil {
		name, err := w.s.authorName(ctx, w.p.UserID)
		if err != nil {
			return nil, err
		}
		w.name = &name
	}
	doc := &commentDoc{ID: r.ID, FeedbackID: r.FeedbackID, AuthorID: w.p.UserID, AuthorName: *w.name,
		Text: r.Text, CreatedAt: r.CreatedAt}
	doc.Meta = datasync.Meta{Seq: w.seq, CreatedSeq: w.seq, Keys: parent.Keys, UpdatedAt: w.s.Now.Stored()}
	if err := w.s.saveComment(ctx, w.p, doc); err != nil {
		return nil, err
	}
	w.s.counts.setComment(parent.ID, doc.ID, true)
	keys, err := w.s.stampFeedback(ctx, parent.ID, w.seq)
	if err != nil {
		return nil, err
	}
	w.restamped(parent.ID, keys)
	return parent.Keys, nil
}

// saveComment inserts doc, or updates the text of the caller's existing comment with that id.
func (s *Service) saveComment(ctx context.Context, p *auth.Principal, doc *commentDoc) error {
	unlock := s.DB.Lock(childLockKey(commentsColl, doc.ID))
	defer unlock()
	_, err := s.coll(commentsColl).InsertOne(ctx, doc)
	if err == nil {
		return nil
	}
	if !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("insert comment %s: %w", doc.ID, mongodb.Translate(err, "comment"))
	}
	var old commentDoc
	if err := s.findByID(ctx, commentsColl, doc.ID, "comment", &old); err != nil {
		return err
	}
	switch {
	case old.AuthorID != p.UserID || old.FromOps || old.FeedbackID != doc.FeedbackID:
		return apperr.New(apperr.NotFound, "comment not found")
	case old.Deleted:
		return apperr.New(apperr.Conflict, "this comment was deleted")
	}
	_, err = s.coll(commentsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: doc.ID}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "text", Value: doc.Text}, {Key: "_updated_at", Value: s.Now.Stored()}}},
		{Key: "$max", Value: bson.D{{Key: "_seq", Value: doc.Seq}}},
	})
	if err != nil {
		return fmt.Errorf("update comment %s: %w", doc.ID, mongodb.Translate(err, "comment"))
	}
	return nil
}

// delete tombstones the caller's own comment; not_found for anyone else's live comment and
// datasync.Gone (accepted as a no-op) for an unknown id or anyone else's deleted comment.
func (w *commentWriter) delete(ctx context.Context, id string) ([]string, error) {
	unlock := w.s.DB.Lock(childLockKey(commentsColl, id))
	var old commentDoc
	err := w.s.findByID(ctx, commentsColl, id, "comment", &old)
	mine := err == nil && old.AuthorID == w.p.UserID && !old.FromOps
	switch {
	case apperr.Is(err, apperr.NotFound) || err == nil && !mine && old.Deleted:
		err = datasync.Gone("comment")
	case err == nil && !mine:
		err = apperr.New(apperr.NotFound, "comment not found")
	}
	if err == nil { // a replay restamps the tombstone, like deleteOwn
		err = w.s.tombstone(ctx, commentsColl, bson.D{{Key: "_id", Value: id}}, w.seq)
	}
	unlock()
	if err != nil {
		return nil, err
	}
	w.s.counts.setComment(old.FeedbackID, id, false)
	switch keys, err := w.s.stampFeedback(ctx, old.FeedbackID, w.seq); {
	case err == nil:
		w.restamped(old.FeedbackID, keys)
	case !apperr.Is(err, apperr.NotFound):
		return nil, err
	}
	return old.Keys, nil
}
