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

// MeToo adds (on) or withdraws p's "me too" on feedback id: one record per user,
// "<feedback id>/<user id>" in feedback_me_too, so repeating either is harmless. The count is the
// number of records. It returns not_found for feedback p cannot see and forbidden for the
// author's own feedback. The feedback is restamped, so pulls show the new count.
func (s *Service) MeToo(ctx context.Context, p *auth.Principal, id string, on bool) (*Feedback, error) {
	d, err := s.visibleFeedback(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if d.AuthorID == p.UserID {
		return nil, apperr.New(apperr.Forbidden, "you cannot add a \"me too\" to your own feedback")
	}
	markID := id + "/" + p.UserID
	changed := false
	if on {
		changed, err = mongodb.Claim(ctx, s.coll(meTooColl), markID, bson.D{
			{Key: "feedback_id", Value: id}, {Key: "user_id", Value: p.UserID}, {Key: "at", Value: s.Now.Stored()},
		})
	} else {
		changed, err = s.unmark(ctx, markID)
	}
	if err != nil {
		return nil, err
	}
	s.counts.setMeToo(id, p.UserID, on)
	if changed {
		err := s.Sync.Write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
			keys, err := s.stampFeedback(ctx, id, seq)
			return []datasync.Touch{named(feedbackColl, keys, id)}, err
		})
		if err != nil {
			return nil, err
		}
	}
	f := s.view(d, p)
	return &f, nil
}

// unmark deletes a "me too" record and reports whether there was one.
func (s *Service) unmark(ctx context.Context, markID string) (bool, error) {
	res, err := s.coll(meTooColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: markID}})
	if err != nil {
		return false, fmt.Errorf("withdraw me too: %w", mongodb.Translate(err, "me too"))
	}
	return res.DeletedCount > 0, nil
}
