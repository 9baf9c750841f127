package announce

import (
	"context"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/clienttime"
)

// apply validates the fields present in in and writes them into a, rendering a new body.
// now is the publish time for a null publish_at.
func (s *Service) apply(ctx context.Context, a *Announcement, in Input, now time.Time) error {
	if in.Title != nil {
		title, err := validTitle(*in.Title)
		if err != nil {
			return err
		}
		a.Title = title
	}
	if in.Body != nil {
		if err := validBody(*in.Body); err != nil {
			return err
		}
		bodyHTML, excerpt, keys, err := render(*in.Body)
		if err != nil {
			return err
		}
		if err := s.checkImageRefs(ctx, keys); err != nil {
			return err
		}
		a.Body, a.BodyHTML, a.Excerpt = *in.Body, bodyHTML, excerpt
	}
	if in.Audience != nil {
		aud, err := validAudience(*in.Audience)
		if err != nil {
			return err
		}
		a.Audience = aud
	}
	if in.Importance != nil {
		if err := validImportance(*in.Importance); err != nil {
			return err
		}
		a.Importance = *in.Importance
	}
	if in.Pinned != nil {
		a.Pinned = *in.Pinned
	}
	for _, t := range []struct {
		field string
		v     Optional[time.Time]
	}{{"publish_at", in.PublishAt}, {"expires_at", in.ExpiresAt}} {
		if t.v.Set && t.v.Value != nil {
			if err := clienttime.CheckWritable(t.field, *t.v.Value); err != nil {
				return err
			}
		}
	}
	if in.PublishAt.Set {
		a.PublishAt = now
		if in.PublishAt.Value != nil && in.PublishAt.Value.After(now) {
			a.PublishAt = utc(*in.PublishAt.Value)
		}
	}
	if in.ExpiresAt.Set {
		a.ExpiresAt = utcPtr(in.ExpiresAt.Value)
	}
	if err := validSchedule(a.PublishAt, a.ExpiresAt); err != nil {
		return err
	}
	if in.CoverImage.Set {
		a.CoverImage = nil
		if key := in.CoverImage.Value; key != nil {
			if err := s.checkImage(ctx, *key); err != nil {
				if apperr.Is(err, apperr.NotFound) {
					return apperr.Field("cover_image", "cover_image is not the key of an uploaded image")
				}
				return err
			}
			a.CoverImage = key
		}
	}
	return nil
}
