package approval

import (
	"context"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
)

// Statistics computes the approval statistics for ops. DB is required; Now defaults to
// time.Now (it decides what is overdue and pending now).
type Statistics struct {
	DB  *mongodb.DB
	Now clock.Func
}

// MaxStatsRange is the longest range one request may cover.
const MaxStatsRange = 366 * 24 * time.Hour

// Stats returns the statistics of the tasks that arrived in [from, to): per flow, per node and
// per approver (see Metrics), and the node with the highest reject rate and the slowest one. It
// returns forbidden unless the actor has role ops or admin, invalid (field to) for an empty,
// reversed or over-long range, and unavailable when the database cannot be reached.
func (s *Statistics) Stats(ctx context.Context, actor *auth.Principal, from, to time.Time) (_ *Stats, err error) {
	defer apperr.Wrapf(&err, "approval statistics")
	if !actor.HasAnyRole(auth.RoleOps, auth.RoleAdmin) {
		return nil, apperr.New(apperr.Forbidden, "approval statistics are for ops")
	}
	from, to = from.UTC(), to.UTC()
	switch {
	case !to.After(from):
		return nil, apperr.Field("to", "to must be after from")
	case to.Sub(from) > MaxStatsRange:
		return nil, apperr.Field("to", "the range may cover at most 366 days")
	}
	rows, pending, err := s.load(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return computeStats(from, to, s.Now.UTC(), rows, pending), nil
}
