package release

import (
	"context"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release/rollout"
)

// PublishInput publishes a build to a channel.
type PublishInput struct {
	Platform Platform `json:"platform"`
	Channel  string   `json:"channel"`
	BuildID  string   `json:"build_id"`
	Percent  float64  `json:"percent"`
	// Notify pushes a "release" notification to the channel's members.
	Notify bool `json:"notify"`
}

// Publish adds a staged release of a build to a channel's track, Play style: the new release
// starts active at Percent, and older releases stay as they are, so that users outside the new
// cohort keep being offered the previous build. The update check offers the newest release a
// user is in. The release id also seeds its cohort. It returns forbidden unless the actor has
// role ops or admin; not_found for an unknown app, channel or build; invalid (with the field)
// for a bad platform or percentage or a build of another platform; and conflict when the build
// is already in a release of the track that is not halted (resume that one instead) or was
// deleted while it was published.
func (s *Service) Publish(ctx context.Context, actor *auth.Principal, appID string, in PublishInput) (*Track, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if _, err := s.app(ctx, appID); err != nil {
		return nil, err
	}
	if err := validPlatform("platform", in.Platform); err != nil {
		return nil, err
	}
	ch, err := s.channel(ctx, appID, in.Channel)
	if err != nil {
		return nil, err
	}
	b, err := s.build(ctx, appID, in.BuildID)
	if err != nil {
		return nil, err
	}
	if b.Platform != in.Platform {
		return nil, apperr.Field("build_id", "build %s is not an %s build", b.PublicID, in.Platform)
	}
	now := s.Now.Stored()
	rel := Release{ID: "rel_" + randomID(12), BuildID: b.PublicID, Build: b.Build, Version: b.Version,
		Percent: in.Percent, State: rollout.Active, PublishedAt: now, UpdatedAt: now}
	rel.Seed = rel.ID
	if err := rollout.Validate(toRollout(rel)); err != nil {
		return nil, err
	}
	t, err := s.updateTrack(ctx, appID, in.Platform, ch.Name, true, func(t *Track) error {
		for _, r := range t.Releases {
			if r.BuildID == b.PublicID && r.State != rollout.Halted {
				return apperr.New(apperr.Conflict, "build %s is already released on %s (%s)", b.PublicID, ch.Name, r.ID)
			}
		}
		t.Releases = append(t.Releases, rel)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Read after the track write (see DeleteBuild): a build deleted meanwhile takes its release
	// back off the track.
	if gone, err := s.deleted(ctx, b); err != nil || gone {
		if _, uerr := s.updateTrack(context.WithoutCancel(ctx), appID, in.Platform, ch.Name, false, func(t *Track) error {
			t.Releases = without(t.Releases, func(r Release) bool { return r.ID == rel.ID })
			return nil
		}); uerr != nil {
			s.log().Warn("release: take back a release of a deleted build", "release", rel.ID, "error", uerr.Error())
		}
		s.changed(ctx) // an update check may have loaded the track in between
		if err != nil {
			return nil, err
		}
		return nil, apperr.New(apperr.Conflict, "build %s was deleted meanwhile", b.PublicID)
	}
	s.changed(ctx)
	if in.Notify {
		s.notify(ctx, ch, b, rel)
	}
	if ch.Retention > 0 {
		if t2, err := s.applyRetention(ctx, ch, in.Platform); err != nil {
			s.log().Warn("release: retention", "channel", ch.ID, "error", err.Error())
		} else if t2 != nil {
			t = t2
		}
	}
	return t, nil
}

// Transition names a change of a release's rollout.
type Transition string

// The transitions, named as in the URLs.
const (
	Raise    Transition = "raise"
	Halt     Transition = "halt"
	Resume   Transition = "resume"
	Complete Transition = "complete"
)

// ChangeRelease raises, halts, resumes or completes a release (rollout semantics: raising only
// grows the cohort, halting stops new offers and serves the previous release again, resuming
// reaches the same users, completing offers it to everybody). percent is used by Raise only. It
// returns forbidden unless the actor has role ops or admin; not_found for an unknown app,
// track or release; invalid (field percent) for a bad percentage; and conflict for a transition
// the release's state does not allow.
func (s *Service) ChangeRelease(ctx context.Context, actor *auth.Principal, appID string, plat Platform, channel, releaseID string, tr Transition, percent float64) (*Track, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if err := s.trackExists(ctx, appID, plat, channel); err != nil {
		return nil, err
	}
	t, err := s.updateTrack(ctx, appID, plat, channel, false, func(t *Track) error {
		for i := range t.Releases {
			r := &t.Releases[i]
			if r.ID != releaseID {
				continue
			}
			next, err := transition(toRollout(*r), tr, percent)
			if err != nil {
				return err
			}
			r.Percent, r.State, r.UpdatedAt = next.Percent, next.State, s.Now.Stored()
			return nil
		}
		return apperr.New(apperr.NotFound, "release not found")
	})
	if err != nil {
		return nil, err
	}
	s.changed(ctx)
	return t, nil
}

func transition(r rollout.Release, tr Transition, percent float64) (rollout.Release, error) {
	switch tr {
	case Raise:
		return rollout.Raise(r, percent)
	case Halt:
		return rollout.Halt(r)
	case Resume:
		return rollout.Resume(r)
	case Complete:
		return rollout.Complete(r)
	}
	return r, apperr.New(apperr.NotFound, "unknown release action %q", tr)
}

// SetMinBuild sets the minimum supported build of a track: devices below it must update (when an
// offered build reaches it). Zero removes the floor. It returns forbidden unless the actor has
// role ops or admin, not_found for an unknown app or channel, and invalid (field min_build) for
// a negative build.
func (s *Service) SetMinBuild(ctx context.Context, actor *auth.Principal, appID string, plat Platform, channel string, minBuild int64) (*Track, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if _, err := s.app(ctx, appID); err != nil {
		return nil, err
	}
	if err := validPlatform("platform", plat); err != nil {
		return nil, apperr.New(apperr.NotFound, "track not found")
	}
	if _, err := s.channel(ctx, appID, channel); err != nil {
		return nil, err
	}
	if minBuild < 0 {
		return nil, apperr.Field("min_build", "min_build must be 0 (no floor) or a build number")
	}
	t, err := s.updateTrack(ctx, appID, plat, channel, true, func(t *Track) error {
		t.MinBuild = minBuild
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(ctx)
	return t, nil
}

// ListTracks returns an app's tracks with their releases. It returns forbidden unless the actor
// has role ops or admin and not_found for an unknown app.
func (s *Service) ListTracks(ctx context.Context, actor *auth.Principal, appID string) ([]Track, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if _, err := s.app(ctx, appID); err != nil {
		return nil, err
	}
	return s.tracks(ctx, appID)
}

func (s *Service) trackExists(ctx context.Context, appID string, plat Platform, channel string) error {
	if _, err := s.app(ctx, appID); err != nil {
		return err
	}
	if validPlatform("platform", plat) != nil || validSlug("channel", channel) != nil {
		return apperr.New(apperr.NotFound, "track not found")
	}
	return nil
}

func toRollout(r Release) rollout.Release {
	return rollout.Release{ID: r.ID, Build: r.Build, Version: r.Version, Percent: r.Percent, Seed: r.Seed,
		State: r.State, PublishedAt: r.PublishedAt}
}
