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

// deleteOwn tombstones the caller's feedback id and its comments and attachments. The author may
// delete only while ops have not triaged it (status new): afterwards it is conflict and the
// record stays. Someone else's live feedback is not_found; an unknown id or someone else's
// deleted feedback is datasync.Gone (accepted as a no-op).
func (s *Service) deleteOwn(ctx context.Context, p *auth.Principal, seq int64, id string) ([]string, error) {
	unlock := s.DB.Lock(lockKey(id))
	var d feedbackDoc
	err := s.findByID(ctx, feedbackColl, id, "feedback", &d)
	switch {
	case apperr.Is(err, apperr.NotFound) || err == nil && d.AuthorID != p.UserID && d.Deleted:
		err = datasync.Gone("feedback")
	case err == nil && d.AuthorID != p.UserID:
		err = apperr.New(apperr.NotFound, "feedback not found")
	}
	if err == nil {
		// A replayed delete restamps the tombstone: when the engine reruns a write that
		// outlived its lease, the newer sequence number must reach pullers too.
		if d.Status != StatusNew && !d.Deleted {
			err = apperr.New(apperr.Conflict, "feedback that ops are handling (status %s) cannot be deleted", d.Status)
		} else {
			err = s.tombstone(ctx, feedbackColl, bson.D{{Key: "_id", Value: id}, {Key: "status", Value: StatusNew}}, seq)
			d.Deleted, d.Seq, d.UpdatedAt = true, max(d.Seq, seq), s.now()
			if err == nil {
				s.cache.put(&d)
			}
		}
	}
	unlock()
	if err != nil {
		return nil, err
	}
	return d.Keys, s.tombstoneChildren(ctx, id, seq)
}

// tombstone marks the document matching filter deleted with seq.
func (s *Service) tombstone(ctx context.Context, coll string, filter bson.D, seq int64) error {
	_, err := s.coll(coll).UpdateOne(ctx, filter, bson.D{
		{Key: "$set", Value: bson.D{{Key: "_deleted", Value: true}, {Key: "_updated_at", Value: s.now()}}},
		{Key: "$max", Value: bson.D{{Key: "_seq", Value: seq}}},
	})
	if err != nil {
		return fmt.Errorf("delete from %s: %w", coll, mongodb.Translate(err, coll))
	}
	return nil
}

// tombstoneChildren deletes (or, on a replay, restamps) the comments and attachments of
// deleted feedback, one by one under their own locks.
func (s *Service) tombstoneChildren(ctx context.Context, feedbackID string, seq int64) error {
	for _, coll := range []string{commentsColl, attachmentsColl} {
		cur, err := s.coll(coll).Find(ctx, bson.D{{Key: "feedback_id", Value: feedbackID}},
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return fmt.Errorf("children of %s: %w", feedbackID, mongodb.Translate(err, coll))
		}
		var ids []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &ids); err != nil {
			return fmt.Errorf("children of %s: %w", feedbackID, mongodb.Translate(err, coll))
		}
		for _, c := range ids {
			unlock := s.DB.Lock(childLockKey(coll, c.ID))
			err := s.tombstone(ctx, coll, bson.D{{Key: "_id", Value: c.ID}}, seq)
			unlock()
			if err != nil {
				return err
			}
			if coll == commentsColl {
				s.counts.setComment(feedbackID, c.ID, false)
			}
		}
	}
	return nil
}

func childLockKey(coll, id string) string { return coll + ":" + id }
