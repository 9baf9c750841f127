package training

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// requireOps refuses anyone but ops and admins.
func requireOps(p *auth.Principal) error { return auth.RequireRole(p, auth.RoleOps, auth.RoleAdmin) }

// Create stores a new video's metadata; it is published (visible to its audience) as soon as
// an upload of it is ready. It returns forbidden for a caller without the ops or admin role and
// invalid naming the field for bad metadata.
func (s *Service) Create(ctx context.Context, p *auth.Principal, in Input) (*Video, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	now := s.Now.UTC()
	d := videoDoc{ID: newID(), Published: true, Status: StatusAwaitingUpload, CreatedBy: p.UserID,
		CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&d); err != nil {
		return nil, err
	}
	if _, err := s.coll(videosColl).InsertOne(ctx, d); err != nil {
		return nil, fmt.Errorf("create video: %w", mongodb.Translate(err, "video"))
	}
	return s.opsView(ctx, &d)
}

// Get returns one video for ops: forbidden without the role, not_found for an unknown id.
func (s *Service) Get(ctx context.Context, p *auth.Principal, id string) (*Video, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	d, err := s.video(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.opsView(ctx, d)
}

// List returns every video, newest first, for ops.
func (s *Service) List(ctx context.Context, p *auth.Principal) ([]*Video, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	docs, err := s.videos(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Video, 0, len(docs))
	for i := len(docs) - 1; i >= 0; i-- {
		v, err := s.opsView(ctx, &docs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Update edits a video's metadata or publishes and unpublishes it: forbidden, not_found, or
// invalid naming the field.
func (s *Service) Update(ctx context.Context, p *auth.Principal, id string, patch Patch) (*Video, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	var out *videoDoc
	err := s.modify(ctx, id, func(d *videoDoc) (bson.D, error) {
		if err := patch.merge(d.input()).apply(d); err != nil {
			return nil, err
		}
		if patch.Published != nil {
			d.Published = *patch.Published
		}
		out = d
		return d.metadata(), nil
	})
	if err != nil {
		return nil, err
	}
	return s.opsView(ctx, out)
}

// Delete removes a video and every object of it (renditions, poster, offline copy, sources of
// pending uploads). A deleted video is not_found everywhere at once.
func (s *Service) Delete(ctx context.Context, p *auth.Principal, id string) error {
	if err := requireOps(p); err != nil {
		return err
	}
	var current *revision
	var job string
	err := s.modify(ctx, id, func(d *videoDoc) (bson.D, error) {
		current, job = d.Current, d.Job
		return bson.D{{Key: "deleted", Value: true}, {Key: "published", Value: false}}, nil
	})
	if err != nil {
		return err
	}
	now := s.Now.UTC()
	if current != nil {
		if err := s.discardRevision(ctx, current.ID, now); err != nil {
			return err
		}
	}
	if job != "" {
		if err := s.discardRevision(ctx, job, now); err != nil {
			return err
		}
	}
	return s.CollectGarbage(ctx)
}

// Retry queues a failed video's latest upload again: forbidden, not_found, or conflict when
// the video has not failed.
func (s *Service) Retry(ctx context.Context, p *auth.Principal, id string) (*Video, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	var out *videoDoc
	err := s.modify(ctx, id, func(d *videoDoc) (bson.D, error) {
		if d.Status != StatusFailed || d.Job == "" {
			return nil, apperr.New(apperr.Conflict, "video %s is %s; only a failed video can be retried", id, d.Status)
		}
		_, err := s.coll(jobsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: d.Job}, {Key: "state", Value: jobFailed}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: jobQueued}, {Key: "attempts", Value: 0},
				{Key: "failure", Value: ""}, {Key: "updated_at", Value: s.Now.UTC()}}}})
		if err != nil {
			return nil, fmt.Errorf("requeue job %s: %w", d.Job, mongodb.Translate(err, "job"))
		}
		d.Status, d.Percent, d.Failure = StatusUploaded, 0, ""
		out = d
		return d.processing(), nil
	})
	if err != nil {
		return nil, err
	}
	return s.opsView(ctx, out)
}
