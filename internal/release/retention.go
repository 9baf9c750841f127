package release

import (
	"context"
	"slices"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/release/rollout"
)

// live reports whether the update check could offer r to somebody now, or serve it again when a
// newer release is halted: anything not halted at or above the newest completed release.
// Releases below a completed one are superseded (Decide always prefers the completed one).
func (t *Track) live(r Release) bool {
	if r.State == rollout.Halted {
		return false
	}
	var floor int64
	for _, o := range t.Releases {
		if o.State == rollout.Completed {
			floor = max(floor, o.Build)
		}
	}
	return r.Build >= floor
}

// applyRetention keeps the newest ch.Retention builds released on a channel's track and deletes
// older ones (their releases, file, icon and document), except builds that are still live there
// or released on another track. It returns the track as it ends up, or nil when unchanged.
func (s *Service) applyRetention(ctx context.Context, ch *Channel, plat Platform) (*Track, error) {
	tracks, err := s.tracks(ctx, ch.AppID)
	if err != nil {
		return nil, err
	}
	id := TrackID(ch.AppID, plat, ch.Name)
	var own *Track
	elsewhere := map[string]bool{}
	for i := range tracks {
		if tracks[i].ID == id {
			own = &tracks[i]
			continue
		}
		for _, r := range tracks[i].Releases {
			elsewhere[r.BuildID] = true
		}
	}
	if own == nil {
		return nil, nil
	}
	type released struct {
		id    string
		build int64
	}
	var builds []released
	for _, r := range own.Releases {
		if !slices.ContainsFunc(builds, func(b released) bool { return b.id == r.BuildID }) {
			builds = append(builds, released{r.BuildID, r.Build})
		}
	}
	slices.SortFunc(builds, func(a, b released) int { return int(b.build - a.build) })
	if len(builds) <= ch.Retention {
		return nil, nil
	}
	var last *Track
	for _, old := range builds[ch.Retention:] {
		if elsewhere[old.id] {
			continue
		}
		b, err := s.build(ctx, ch.AppID, old.id)
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return last, err
		}
		t, err := s.retire(ctx, ch, plat, b)
		if err == errStillLive {
			continue
		}
		if err != nil {
			return last, err
		}
		if t != nil {
			last = t
			s.log().Info("release: retention deleted a build", "channel", ch.ID, "build", b.PublicID)
		}
	}
	if last != nil {
		s.changed(ctx)
	}
	return last, nil
}

// retire deletes old build b of ch's track on plat, as DeleteBuild does: under its deletion
// mark, with the tracks read after the mark, so that a publish of b on another channel at the
// same moment is either seen here (b is kept) or sees the mark (and takes its release back).
// Without the mark, retention deleted a build another ops user had just released elsewhere:
// that track kept a release of a build that no longer existed, and the next upload with that
// number went live on it unpublished. It returns the track as it ends up, nil when b was kept.
func (s *Service) retire(ctx context.Context, ch *Channel, plat Platform, b *Build) (*Track, error) {
	if s.beforeRetire != nil {
		s.beforeRetire(b)
	}
	if err := s.markDeleting(ctx, b); err != nil {
		return nil, err
	}
	defer s.unmarkDeleting(ctx, b)
	tracks, err := s.tracks(ctx, ch.AppID)
	if err != nil {
		return nil, err
	}
	own := TrackID(ch.AppID, plat, ch.Name)
	for _, t := range tracks {
		if t.ID != own && t.references(b.PublicID) {
			return nil, nil // released elsewhere meanwhile
		}
	}
	t, err := s.updateTrack(ctx, ch.AppID, plat, ch.Name, false, func(t *Track) error {
		for _, r := range t.Releases {
			if r.BuildID == b.PublicID && t.live(r) {
				return errStillLive
			}
		}
		t.Releases = without(t.Releases, func(r Release) bool { return r.BuildID == b.PublicID })
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.discard(ctx, b)
	return t, nil
}

// errStillLive aborts a retention deletion whose build is still offered.
var errStillLive = apperr.New(apperr.Conflict, "the build is still live")
