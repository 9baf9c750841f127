package feedback

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// deleteOwn tombstones the caller's feedback id; the caller then tombstones its comments and
// attachments (tombstoneChildren, once for all the feedback a push deletes). The author may
// delete only while ops have not triaged it (status new): afterwards it is conflict and the
// record stays. Someone else's live feedback is not_found; an unknown id or someone else's
// deleted feedback is datasync.Gone (accepted as a no-op).
func (s *Service) deleteOwn(ctx context.Context, p *auth.Principal, seq int64, id string) ([]string, error) {
	unlock := s.DB.Lock(lockKey(id))
	defer unlock()
	var d feedbackDoc
	err := s.loadFeedback(ctx, id, &d)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return nil, datasync.Gone("feedback")
	case err != nil:
		return nil, err
	}
	switch {
	case d.AuthorID != p.UserID && d.Deleted:
		return nil, datasync.Gone("feedback")
	case d.AuthorID != p.UserID:
		return nil, apperr.New(apperr.NotFound, "feedback not found")
	case d.Status != StatusNew && !d.Deleted:
		return nil, apperr.New(apperr.Conflict, "feedback that ops are handling (status %s) cannot be deleted", d.Status)
	case d.Status != StatusNew:
		return d.Keys, nil // deleted before ops could triage it: nothing to restamp
	case d.OpsVersion > 0:
		// Still new, but ops assigned it or wrote a resolution note: it is theirs too now.
		return nil, apperr.New(apperr.Conflict, "feedback that ops are handling cannot be deleted")
	case d.OpsReplied:
		// An ops reply is a comment (no ops version): a delete would take it away unread.
		return nil, apperr.New(apperr.Conflict, "feedback ops replied to cannot be deleted")
	}
	if _, comments, _ := s.counts.of(id, ""); !d.Deleted && comments > 0 {
		// Replies from before ops_replied was recorded: look (only when there are comments; on
		// FerretDB this query reads the whole collection).
		n, err := s.coll(commentsColl).CountDocuments(ctx, bson.D{{Key: "feedback_id", Value: id}, {Key: "from_ops", Value: true},
			{Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}}}, options.Count().SetLimit(1))
		if err != nil {
			return nil, fmt.Errorf("find ops replies of feedback %s: %w", id, mongodb.Translate(err, "feedback"))
		}
		if n > 0 {
			return nil, apperr.New(apperr.Conflict, "feedback ops replied to cannot be deleted")
		}
	}
	// Instances sharing a FerretDB: the delete takes the slot of the next ops version, which an
	// ops write made meanwhile on another instance holds (see claimSlot).
	if held, err := s.claimSlot(ctx, id, d.OpsVersion+1, "delete:"+p.UserID); err != nil || !held {
		if err == nil {
			err = apperr.New(apperr.Conflict, "feedback that ops are handling cannot be deleted")
		}
		return nil, err
	}
	// A replayed delete restamps the tombstone: when the engine reruns a write that outlived its
	// lease, the newer sequence number must reach pullers too.
	matched, err := s.tombstoneMatched(ctx, feedbackColl, s.byID(id, bson.E{Key: "status", Value: StatusNew}), seq)
	if err != nil {
		s.releaseSlot(ctx, id, d.OpsVersion+1, "delete:"+p.UserID)
		return nil, err
	}
	if !matched {
		// Ops triaged it since the read (another instance: DB.Lock spans one process). Its
		// comments and attachments must stay, so the delete is refused, not reported done.
		// (The cache is on only for the embedded database, where the lock rules this out.)
		return nil, apperr.New(apperr.Conflict, "feedback that ops are handling cannot be deleted")
	}
	d.Deleted, d.Seq, d.UpdatedAt = true, max(d.Seq, seq), s.Now.Stored()
	s.cache.put(&d)
	return d.Keys, nil
}

// tombstone marks the document matching filter deleted with seq.
func (s *Service) tombstone(ctx context.Context, coll string, filter bson.D, seq int64) error {
	_, err := s.tombstoneMatched(ctx, coll, filter, seq)
	return err
}

// tombstoneMatched is tombstone, reporting whether filter matched a document.
func (s *Service) tombstoneMatched(ctx context.Context, coll string, filter bson.D, seq int64) (bool, error) {
	r, err := s.coll(coll).UpdateOne(ctx, filter, bson.D{
		{Key: "$set", Value: bson.D{{Key: "_deleted", Value: true}, {Key: "_updated_at", Value: s.Now.Stored()}}},
		{Key: "$max", Value: bson.D{{Key: "_seq", Value: seq}}},
	})
	if err != nil {
		return false, fmt.Errorf("delete from %s: %w", coll, mongodb.Translate(err, coll))
	}
	return r.MatchedCount > 0, nil
}

// tombstoneChildren deletes (or, on a replay, restamps) the comments and attachments of the
// deleted feedback ids, one by one under their own locks. They are found with one query per
// collection for all the ids: on the embedded database a filter on feedback_id reads the whole
// collection, so one query per deleted feedback would read it once per record.
func (s *Service) tombstoneChildren(ctx context.Context, feedbackIDs []string, seq int64) error {
	if len(feedbackIDs) == 0 {
		return nil
	}
	for _, coll := range []string{commentsColl, attachmentsColl} {
		cur, err := s.coll(coll).Find(ctx, bson.D{{Key: "feedback_id", Value: bson.D{{Key: "$in", Value: feedbackIDs}}}},
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "feedback_id", Value: 1},
				{Key: "bucket", Value: 1}, {Key: "object_key", Value: 1}}))
		if err != nil {
			return fmt.Errorf("children of %d feedback: %w", len(feedbackIDs), mongodb.Translate(err, coll))
		}
		var children []struct {
			ID         string `bson:"_id"`
			FeedbackID string `bson:"feedback_id"`
			Bucket     string `bson:"bucket"`
			ObjectKey  string `bson:"object_key"`
		}
		if err := cur.All(ctx, &children); err != nil {
			return fmt.Errorf("children of %d feedback: %w", len(feedbackIDs), mongodb.Translate(err, coll))
		}
		for _, c := range children {
			unlock := s.DB.Lock(childLockKey(coll, c.ID))
			err := s.tombstone(ctx, coll, bson.D{{Key: "_id", Value: c.ID}}, seq)
			unlock()
			if err != nil {
				return err
			}
			if coll == commentsColl {
				s.counts.setComment(c.FeedbackID, c.ID, false)
			}
			// The photo goes with its record, as when the attachment alone is deleted: nothing
			// refers to it once the tombstone is purged.
			if coll == attachmentsColl {
				s.deletePhoto(ctx, c.ID, c.Bucket, c.ObjectKey)
			}
		}
	}
	return nil
}

func childLockKey(coll, id string) string { return coll + ":" + id }
