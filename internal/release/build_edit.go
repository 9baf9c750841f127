package release

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/release/rollout"
)

// BuildPatch changes a build's notes or linked what's-new card; nil fields stay as they are.
type BuildPatch struct {
	// Notes replaces all notes; an empty object removes them.
	Notes *map[string]string `json:"notes"`
	// WhatsNewCardID links an existing card of the app; "" unlinks.
	WhatsNewCardID *string `json:"whats_new_card_id"`
}

// UpdateBuild changes a build's release notes (Markdown, rendered and sanitized) or its linked
// what's-new card. It returns forbidden unless the actor has role ops or admin, not_found for an
// unknown app or build, and invalid (with the field) for bad notes or an unknown card.
func (s *Service) UpdateBuild(ctx context.Context, actor *auth.Principal, appID, buildID string, in BuildPatch) (*Build, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	// As UpdateApp: the embedded FerretDB's updates are not atomic across writers, so two edits
	// of one build (notes by one ops user, the card by another) are serialized here. (A test of
	// 15 rounds of 8+8 concurrent edits lost none without it; this is the documented rule.)
	defer s.DB.Lock("release-build:" + appID + "/" + buildID)()
	b, err := s.build(ctx, appID, buildID)
	if err != nil {
		return nil, err
	}
	set := bson.D{}
	if in.Notes != nil {
		if b.Notes, b.NotesHTML, err = renderNotes(*in.Notes); err != nil {
			return nil, err
		}
		set = append(set, bson.E{Key: "notes", Value: b.Notes}, bson.E{Key: "notes_html", Value: b.NotesHTML})
	}
	if in.WhatsNewCardID != nil {
		if err := s.checkCard(ctx, actor, appID, *in.WhatsNewCardID); err != nil {
			return nil, err
		}
		b.WhatsNewCardID = *in.WhatsNewCardID
		set = append(set, bson.E{Key: "whats_new_card_id", Value: b.WhatsNewCardID})
	}
	if len(set) == 0 {
		return b, nil
	}
	if _, err := s.coll(buildsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: b.ID}}, bson.D{{Key: "$set", Value: set}}); err != nil {
		return nil, mongodb.Translate(err, "build")
	}
	s.changed(ctx)
	return b, nil
}

func (s *Service) checkCard(ctx context.Context, actor *auth.Principal, appID, cardID string) error {
	if cardID == "" {
		return nil
	}
	if s.Cards == nil {
		return apperr.New(apperr.Unavailable, "what's-new cards are not available")
	}
	cards, err := s.Cards.List(ctx, actor, appID)
	if err != nil {
		return err
	}
	for _, c := range cards {
		if c.ID == cardID {
			return nil
		}
	}
	return apperr.Field("whats_new_card_id", "app %s has no what's-new card %q", appID, cardID)
}

// DeleteBuild removes a build with its file and icon. Halted releases of it are taken off their
// tracks. It returns forbidden unless the actor has role ops or admin, not_found for an unknown
// app or build, and conflict while the build is in a release that is not halted.
func (s *Service) DeleteBuild(ctx context.Context, actor *auth.Principal, appID, buildID string) error {
	if err := requireOps(actor); err != nil {
		return err
	}
	b, err := s.build(ctx, appID, buildID)
	if err != nil {
		return err
	}
	// The mark is written before the tracks are read, and Publish reads it after its track
	// write: so either this deletion sees the new release, or that publish sees the mark and
	// takes its release back. Without it, a publish between the two could leave a track
	// offering a deleted build.
	if err := s.markDeleting(ctx, b); err != nil {
		return err
	}
	defer s.unmarkDeleting(ctx, b)
	tracks, err := s.tracks(ctx, appID)
	if err != nil {
		return err
	}
	for _, t := range tracks {
		for _, r := range t.Releases {
			if r.BuildID == b.PublicID && r.State != rollout.Halted {
				return apperr.New(apperr.Conflict, "build %s is in a %s release on %s; halt it first", b.PublicID, r.State, t.Channel)
			}
		}
	}
	if err := s.dropBuild(ctx, b, tracks); err != nil {
		return err
	}
	s.changed(ctx)
	return nil
}

// dropBuild takes the build's (halted) releases off the given tracks, then deletes it.
func (s *Service) dropBuild(ctx context.Context, b *Build, tracks []Track) error {
	for _, t := range tracks {
		if t.Platform != b.Platform || !t.references(b.PublicID) {
			continue
		}
		_, err := s.updateTrack(ctx, t.AppID, t.Platform, t.Channel, false, func(t *Track) error {
			for _, r := range t.Releases {
				if r.BuildID == b.PublicID && r.State != rollout.Halted {
					return apperr.New(apperr.Conflict, "build %s was just released again", b.PublicID)
				}
			}
			t.Releases = without(t.Releases, func(r Release) bool { return r.BuildID == b.PublicID })
			return nil
		})
		if err != nil {
			return err
		}
	}
	s.discard(ctx, b)
	return nil
}

// deletingTTL is how long a deletion mark holds: a deletion that takes longer (its instance
// died) no longer keeps the build from being published.
const deletingTTL = time.Minute

func deletingID(buildID string) string { return "deleting:" + buildID }

// deletingMark is the release_meta document a deletion writes while it runs.
type deletingMark struct {
	At time.Time `bson:"at"`
}

// markDeleting writes b's deletion mark (or renews one a concurrent or dead deletion left).
func (s *Service) markDeleting(ctx context.Context, b *Build) error {
	at := bson.D{{Key: "at", Value: s.Now.Stored()}}
	won, err := mongodb.Claim(ctx, s.coll(metaColl), deletingID(b.ID), at)
	if err != nil || won {
		return err
	}
	_, err = s.coll(metaColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: deletingID(b.ID)}}, bson.D{{Key: "$set", Value: at}})
	return mongodb.Translate(err, "build")
}

func (s *Service) unmarkDeleting(ctx context.Context, b *Build) {
	if _, err := s.coll(metaColl).DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: deletingID(b.ID)}}); err != nil {
		s.log().Warn("release: remove deletion mark", "build", b.ID, "error", err.Error())
	}
}

// deleted reports whether b is gone or being deleted: its document is missing or it has a
// live deletion mark.
func (s *Service) deleted(ctx context.Context, b *Build) (bool, error) {
	mark, err := findOne[deletingMark](ctx, s.coll(metaColl), deletingID(b.ID), "build")
	switch {
	case err == nil && s.Now.Stored().Sub(mark.At) < deletingTTL:
		return true, nil
	case err != nil && !apperr.Is(err, apperr.NotFound):
		return false, err
	}
	_, err = findOne[Build](ctx, s.coll(buildsColl), b.ID, "build")
	if apperr.Is(err, apperr.NotFound) {
		return true, nil
	}
	return false, err
}

func (t *Track) references(publicID string) bool {
	for _, r := range t.Releases {
		if r.BuildID == publicID {
			return true
		}
	}
	return false
}

func without(rs []Release, drop func(Release) bool) []Release {
	out := make([]Release, 0, len(rs))
	for _, r := range rs {
		if !drop(r) {
			out = append(out, r)
		}
	}
	return out
}
