package feedback

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// Mine lists the feedback p may see as a user: their own and feedback shared with a channel they
// test, newest received first, cursor paged. It returns unauthorized without a principal and
// invalid (with the parameter) for bad paging.
func (s *Service) Mine(ctx context.Context, p *auth.Principal, limit int, cursor string) ([]Feedback, string, error) {
	if p == nil {
		return nil, "", apperr.New(apperr.Unauthorized, "authentication required")
	}
	keys, err := s.heldKeys(ctx, p)
	if err != nil {
		return nil, "", err
	}
	filter := bson.D{
		{Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}},
		{Key: "_keys", Value: bson.D{{Key: "$in", Value: keys}}},
	}
	return s.page(ctx, p, filter, visibleThrough(keys), limit, cursor)
}

// Get returns feedback id with its comments and attachments to anyone who may see it (author,
// ops, testers of shared feedback); not_found for everyone else.
func (s *Service) Get(ctx context.Context, p *auth.Principal, id string) (*Feedback, error) {
	d, err := s.visibleFeedback(ctx, p, id)
	if err != nil {
		return nil, err
	}
	f := s.view(d, p)
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}})
	live := bson.D{{Key: "feedback_id", Value: id}, {Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}}}
	comments, err := mongodb.FindAll[commentDoc](ctx, s.coll(commentsColl), live, commentsColl, opts)
	if err != nil {
		return nil, err
	}
	f.Comments = make([]Comment, len(comments))
	for i := range comments {
		f.Comments[i] = commentView(&comments[i])
	}
	attachments, err := mongodb.FindAll[attachmentDoc](ctx, s.coll(attachmentsColl), live, attachmentsColl, opts)
	if err != nil {
		return nil, err
	}
	f.Attachments = make([]Attachment, len(attachments))
	for i := range attachments {
		f.Attachments[i] = attachmentView(&attachments[i])
	}
	return &f, nil
}

// OpsGet is Get for the triage screens: forbidden unless actor is ops or admin.
func (s *Service) OpsGet(ctx context.Context, actor *auth.Principal, id string) (*Feedback, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	return s.Get(ctx, actor, id)
}
