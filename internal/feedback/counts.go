package feedback

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// counts holds, per feedback, the users who added a "me too" and the ids of its live comments.
// The counts are the sizes of these sets, taken from the records themselves: adding the same
// record twice (a replayed write) changes nothing, and no counter field can drift. Load fills it
// at start; this instance's writes update it at once and Load, run by a worker, picks up what
// other instances wrote.
type counts struct {
	mu       sync.RWMutex
	meToo    map[string]map[string]struct{} // feedback id -> user ids
	comments map[string]map[string]struct{} // feedback id -> comment ids
	// writes counts changes and reloads (see loopMemo).
	writes atomic.Uint64
}

func (c *counts) of(feedbackID, userID string) (meToo, comments int, mine bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	users := c.meToo[feedbackID]
	_, mine = users[userID]
	return len(users), len(c.comments[feedbackID]), mine
}

func set(m map[string]map[string]struct{}, k, v string, on bool) {
	if on {
		if m[k] == nil {
			m[k] = map[string]struct{}{}
		}
		m[k][v] = struct{}{}
		return
	}
	delete(m[k], v)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

func (c *counts) setMeToo(feedbackID, userID string, on bool) {
	c.writes.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meToo == nil {
		c.meToo = map[string]map[string]struct{}{}
	}
	set(c.meToo, feedbackID, userID, on)
}

func (c *counts) setComment(feedbackID, commentID string, on bool) {
	c.writes.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.comments == nil {
		c.comments = map[string]map[string]struct{}{}
	}
	set(c.comments, feedbackID, commentID, on)
}

// LoadCounts rebuilds the in-memory "me too" and comment counts from their records: at start,
// and from a worker to pick up other instances' writes. It returns unavailable when the database
// cannot be read.
func (s *Service) LoadCounts(ctx context.Context) error {
	meToo := map[string]map[string]struct{}{}
	cur, err := s.coll(meTooColl).Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("load me-too records: %w", mongodb.Translate(err, "me too"))
	}
	var marks []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &marks); err != nil {
		return fmt.Errorf("load me-too records: %w", mongodb.Translate(err, "me too"))
	}
	for _, m := range marks {
		if fid, uid, ok := strings.Cut(m.ID, "/"); ok {
			set(meToo, fid, uid, true)
		}
	}
	comments := map[string]map[string]struct{}{}
	cur, err = s.coll(commentsColl).Find(ctx, bson.D{{Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}}},
		options.Find().SetProjection(bson.D{{Key: "feedback_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("load comments: %w", mongodb.Translate(err, "comment"))
	}
	var rows []struct {
		ID         string `bson:"_id"`
		FeedbackID string `bson:"feedback_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return fmt.Errorf("load comments: %w", mongodb.Translate(err, "comment"))
	}
	for _, r := range rows {
		set(comments, r.FeedbackID, r.ID, true)
	}
	s.counts.mu.Lock()
	s.counts.meToo, s.counts.comments = meToo, comments
	s.counts.mu.Unlock()
	s.counts.writes.Add(1)
	return nil
}
