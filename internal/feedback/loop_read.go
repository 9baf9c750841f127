package feedback

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// openStatuses are the statuses of the open backlog.
var openStatuses = []string{StatusNew, StatusAcknowledged, StatusInProgress}

// loopFeedback returns the live feedback received in [start, end) and the live feedback open
// now. With the in-memory copy on (the embedded database, see feedbackCache) both come from it:
// FerretDB decodes every stored document for each query, which made the two reads take most of
// a second at 2,000 items. Otherwise one query selects both ($or of the received_at and
// status indexes on MongoDB).
func (s *Service) loopFeedback(ctx context.Context, start, end time.Time) (created, open []*feedbackDoc, err error) {
	if docs, on := s.cache.snapshot(); on {
		for _, d := range docs {
			if d.Deleted {
				continue
			}
			if !d.ReceivedAt.Before(start) && d.ReceivedAt.Before(end) {
				created = append(created, d)
			}
			if slices.Contains(openStatuses, d.Status) {
				open = append(open, d)
			}
		}
		return created, open, nil
	}
	// One query for both (on FerretDB each query decodes the whole collection once).
	docs, err := s.loopDocs(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "received_at", Value: bson.D{{Key: "$gte", Value: start}, {Key: "$lt", Value: end}}}},
		bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: openStatuses}}}},
	}}})
	if err != nil {
		return nil, nil, err
	}
	for _, d := range docs {
		if !d.ReceivedAt.Before(start) && d.ReceivedAt.Before(end) {
			created = append(created, d)
		}
		if slices.Contains(openStatuses, d.Status) {
			open = append(open, d)
		}
	}
	return created, open, nil
}

// loopDocs reads the live feedback matching filter, with the fields the loop numbers need.
func (s *Service) loopDocs(ctx context.Context, filter bson.D) ([]*feedbackDoc, error) {
	filter = append(filter, bson.E{Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}})
	cur, err := s.coll(feedbackColl).Find(ctx, filter, options.Find().SetProjection(bson.D{
		{Key: "text", Value: 1}, {Key: "status", Value: 1}, {Key: "received_at", Value: 1},
		{Key: "first_status_at", Value: 1}, {Key: "closed_at", Value: 1},
	}))
	if err != nil {
		return nil, fmt.Errorf("read feedback for loop metrics: %w", mongodb.Translate(err, "feedback"))
	}
	var docs []*feedbackDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read feedback for loop metrics: %w", mongodb.Translate(err, "feedback"))
	}
	return docs, nil
}

// firstOpsReplies returns, per feedback of docs, when its first ops reply was written (ms). On
// MongoDB it asks the feedback_id index for 500 items at a time; on the embedded database,
// where every query reads the whole collection, it reads the ops replies once and keeps those
// of docs.
func (s *Service) firstOpsReplies(ctx context.Context, docs []*feedbackDoc) (map[string]int64, error) {
	out := map[string]int64{}
	if len(docs) == 0 {
		return out, nil
	}
	scan := s.cache.enabled()
	chunks := slices.Collect(slices.Chunk(docs, 500))
	if scan {
		chunks = [][]*feedbackDoc{docs}
	}
	for _, chunk := range chunks {
		ids := make([]string, len(chunk))
		for i, d := range chunk {
			ids[i] = d.ID
		}
		filter := bson.D{{Key: "from_ops", Value: true}}
		if !scan {
			filter = append(filter, bson.E{Key: "feedback_id", Value: bson.D{{Key: "$in", Value: ids}}})
		}
		cur, err := s.coll(commentsColl).Find(ctx, filter,
			options.Find().SetProjection(bson.D{{Key: "feedback_id", Value: 1}, {Key: "created_at", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("read ops replies: %w", mongodb.Translate(err, "comment"))
		}
		var rows []commentDoc
		if err := cur.All(ctx, &rows); err != nil {
			return nil, fmt.Errorf("read ops replies: %w", mongodb.Translate(err, "comment"))
		}
		want := make(map[string]bool, len(ids))
		for _, id := range ids {
			want[id] = true
		}
		for _, r := range rows {
			if !want[r.FeedbackID] {
				continue
			}
			if at, ok := out[r.FeedbackID]; !ok || r.CreatedAt < at {
				out[r.FeedbackID] = r.CreatedAt
			}
		}
	}
	return out, nil
}
