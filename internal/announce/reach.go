package announce

import (
	"context"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// MaxReachDays is the longest range Reach covers.
const MaxReachDays = 400

// Reach is one announcement's reach in a range summary: its Stats (pushed is the devices it
// was delivered to) with what names it.
type Reach struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Status      string    `json:"status"`
	PublishedAt time.Time `json:"published_at"`
	Stats
}

// Reach returns the Stats of every announcement published from the UTC day from to the UTC day
// to (inclusive), newest first. It returns forbidden unless the actor has role ops, invalid
// (field from or to) for a bad range and unavailable when the database cannot be reached.
func (s *Service) Reach(ctx context.Context, actor *auth.Principal, from, to string) ([]Reach, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	start, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return nil, apperr.Field("from", "from must be a day, YYYY-MM-DD")
	}
	last, err := time.Parse(time.DateOnly, to)
	switch {
	case err != nil:
		return nil, apperr.Field("to", "to must be a day, YYYY-MM-DD")
	case last.Before(start):
		return nil, apperr.Field("to", "to must not be before from")
	case last.Sub(start) >= MaxReachDays*24*time.Hour:
		return nil, apperr.Field("to", "a range covers at most %d days", MaxReachDays)
	}
	end := last.AddDate(0, 0, 1)
	all, err := s.List(ctx, actor)
	if err != nil {
		return nil, err
	}
	out := []Reach{}
	for _, a := range all {
		if a.PublishedAt == nil || a.PublishedAt.Before(start) || !a.PublishedAt.Before(end) {
			continue
		}
		st, err := s.Stats(ctx, actor, a.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, Reach{ID: a.ID, Title: a.Title, Status: a.Status, PublishedAt: *a.PublishedAt, Stats: *st})
	}
	return out, nil
}
