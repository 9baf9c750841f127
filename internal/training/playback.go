package training

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
)

// playbackMargin is added to a video's duration to give its playback URLs' lifetime: room for
// pauses, seeking back and a slow start. The total is capped at media.MaxPlaybackExpiry.
const playbackMargin = 30 * time.Minute

// visible reports whether p may see d in the catalogue: a published, playable video whose
// audience (roles and departments; empty means everyone) includes p. Ops and admins see every
// published video, to check what their audience sees.
func visible(p *auth.Principal, d *videoDoc) bool {
	if d.Deleted || d.Current == nil || !d.Published {
		return false
	}
	if p.HasAnyRole(auth.RoleOps, auth.RoleAdmin) {
		return true
	}
	if len(d.Roles) > 0 && !slices.ContainsFunc(d.Roles, func(r string) bool { return p.HasRole(auth.Role(r)) }) {
		return false
	}
	return len(d.Departments) == 0 || slices.Contains(d.Departments, p.Department)
}

// visibleVideo returns the video if p may see it, not_found otherwise.
func (s *Service) visibleVideo(ctx context.Context, p *auth.Principal, id string) (*videoDoc, error) {
	d, err := s.video(ctx, id)
	if err != nil {
		return nil, err
	}
	if !visible(p, d) {
		return nil, apperr.New(apperr.NotFound, "video not found")
	}
	return d, nil
}

// Catalogue lists the videos p may see, required ones first by due date, then the newest; q,
// when set, keeps those whose title, description, category or a tag contains it (ignoring case).
func (s *Service) Catalogue(ctx context.Context, p *auth.Principal, q string) ([]*CatalogueVideo, error) {
	docs, err := s.videos(ctx)
	if err != nil {
		return nil, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	var keep []*videoDoc
	for i := range docs {
		d := &docs[i]
		if visible(p, d) && matches(d, q) {
			keep = append(keep, d)
		}
	}
	sort.SliceStable(keep, func(i, j int) bool {
		a, b := keep[i], keep[j]
		if a.Required != b.Required {
			return a.Required
		}
		if a.Required && !a.DueAt.Equal(*b.DueAt) {
			return a.DueAt.Before(*b.DueAt)
		}
		return a.CreatedAt.After(b.CreatedAt)
	})
	out := make([]*CatalogueVideo, 0, len(keep))
	for _, d := range keep {
		v, err := s.catalogueView(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func matches(d *videoDoc, q string) bool {
	if q == "" {
		return true
	}
	in := func(s string) bool { return strings.Contains(strings.ToLower(s), q) }
	return in(d.Title) || in(d.Description) || in(d.Category) || slices.ContainsFunc(d.Tags, in)
}

// Video returns one catalogue video, or not_found when p may not see it.
func (s *Service) Video(ctx context.Context, p *auth.Principal, id string) (*CatalogueVideo, error) {
	d, err := s.visibleVideo(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return s.catalogueView(ctx, d)
}

func (s *Service) catalogueView(ctx context.Context, d *videoDoc) (*CatalogueVideo, error) {
	poster, err := s.posterURL(ctx, d.Current)
	if err != nil {
		return nil, err
	}
	return &CatalogueVideo{ID: d.ID, Title: d.Title, Description: d.Description, DescriptionHTML: d.DescriptionHTML,
		Category: d.Category, Tags: nonNil(d.Tags), Language: d.Language, Required: d.Required, DueAt: d.DueAt,
		DurationMS: d.Current.DurationMS, PosterURL: poster, UpdatedAt: d.UpdatedAt}, nil
}

// posterURL presigns a revision's poster for media.MaxPresignExpiry: lists are re-read far
// more often than that.
func (s *Service) posterURL(ctx context.Context, rev *revision) (string, error) {
	u, err := s.Store.PresignGet(ctx, media.Videos, rev.PosterKey, media.MaxPresignExpiry, "")
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// playbackExpiry is how long the URLs of one playback of rev stay valid.
func playbackExpiry(rev *revision) time.Duration {
	return min(time.Duration(rev.DurationMS)*time.Millisecond+playbackMargin, media.MaxPlaybackExpiry)
}

// Play starts a playback of a video p may see (not_found otherwise): it counts p's view of the
// day (once per user, video and UTC day) and returns the master playlist's URL, signed for the
// video's current revision.
func (s *Service) Play(ctx context.Context, p *auth.Principal, id string) (*Playback, error) {
	d, err := s.visibleVideo(ctx, p, id)
	if err != nil {
		return nil, err
	}
	now := s.Now.UTC()
	day := now.Format(time.DateOnly)
	first, err := mongodb.Claim(ctx, s.coll(viewsColl), id+":"+p.UserID+":"+day, bson.D{
		{Key: "video_id", Value: id}, {Key: "user_id", Value: p.UserID}, {Key: "day", Value: day}, {Key: "at", Value: now},
	})
	if err != nil {
		return nil, err
	}
	if first {
		s.recordUsage(p, "training_view", id)
	}
	expires := now.Add(playbackExpiry(d.Current)).Truncate(time.Second)
	token := s.sign(d, d.Current.ID, expires)
	return &Playback{ExpiresAt: expires,
		MasterURL: s.PublicBaseURL + "/v1/training/play/" + id + "/" + token + "/master.m3u8"}, nil
}

// Download returns the offline MP4 of a video p may see (not_found otherwise), presigned for as
// long as a playback.
func (s *Service) Download(ctx context.Context, p *auth.Principal, id string) (*Download, error) {
	d, err := s.visibleVideo(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return s.offlineCopy(ctx, d)
}

// Preview returns the offline MP4 of any processed video for ops and admins to watch, published
// or not: before publishing is when they check it. It returns forbidden for other roles,
// not_found for a video that does not exist (or was deleted) and conflict while no upload of it
// has been processed.
func (s *Service) Preview(ctx context.Context, p *auth.Principal, id string) (*Download, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	d, err := s.video(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Current == nil {
		return nil, apperr.New(apperr.Conflict, "the video has no processed upload to preview yet (status %s)", d.Status)
	}
	return s.offlineCopy(ctx, d)
}

// offlineCopy presigns the offline MP4 of d's current revision for as long as a playback.
func (s *Service) offlineCopy(ctx context.Context, d *videoDoc) (*Download, error) {
	expiry := playbackExpiry(d.Current)
	u, err := s.Store.PresignPlayback(ctx, media.Videos, d.Current.OfflineKey, expiry)
	if err != nil {
		return nil, err
	}
	return &Download{URL: u.String(), Size: d.Current.OfflineSize, SHA256: d.Current.OfflineSHA256,
		ExpiresAt: s.Now.UTC().Add(expiry).Truncate(time.Second)}, nil
}

// Playlist returns an HLS playlist of a playback URL: name "master" (the master playlist, whose
// variant URIs are relative, so they keep the credential in the path) or a rendition's name
// (its media playlist, every segment URI presigned until the playback expires). It returns
// forbidden for a forged or expired credential, or one handed out before the video's audience
// changed, and not_found for a video that was deleted or unpublished since, or an unknown
// rendition.
func (s *Service) Playlist(ctx context.Context, videoID, token, name string) (string, error) {
	cred, err := s.verify(videoID, token)
	if err != nil {
		return "", err
	}
	d, err := s.video(ctx, videoID)
	if err != nil {
		return "", err
	}
	if !d.Published {
		return "", apperr.New(apperr.NotFound, "video not found")
	}
	if cred.audience != audienceDigest(d) {
		return "", apperr.New(apperr.Forbidden, "the video's audience changed; start the playback again")
	}
	rev, expires := cred.rev, cred.expires
	var j jobDoc
	if err := s.coll(jobsColl).FindOne(ctx, bson.D{{Key: "_id", Value: rev}}).Decode(&j); err != nil {
		return "", fmt.Errorf("playlist: %w", mongodb.Translate(err, "video"))
	}
	text, ok := j.Playlists[name]
	if j.VideoID != videoID || j.Output == nil || !ok {
		return "", apperr.New(apperr.NotFound, "playlist not found")
	}
	if name == "master" {
		return rewrite(text, func(uri string) (string, error) {
			r, _, _ := strings.Cut(uri, "/")
			return r + ".m3u8", nil
		})
	}
	left := expires.Sub(s.Now.UTC())
	if left < time.Second {
		// Expired while the playlist was read: a zero expiry would be signed as the store's
		// default (5 minutes), outliving the credential.
		return "", apperr.New(apperr.Forbidden, "the playback URL has expired; start the playback again")
	}
	return rewrite(text, func(uri string) (string, error) {
		u, err := s.Store.PresignPlayback(ctx, media.Videos, j.Output.Prefix+"/"+name+"/"+uri, left)
		if err != nil {
			return "", err
		}
		return u.String(), nil
	})
}

// rewrite replaces every URI line of an HLS playlist (a line that is neither empty nor a tag).
func rewrite(playlist string, uri func(string) (string, error)) (string, error) {
	lines := strings.Split(playlist, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if _, err := url.Parse(l); err != nil || strings.Contains(l, "..") {
			return "", fmt.Errorf("playlist has a bad URI %q", l)
		}
		u, err := uri(l)
		if err != nil {
			return "", err
		}
		lines[i] = u
	}
	return strings.Join(lines, "\n"), nil
}
