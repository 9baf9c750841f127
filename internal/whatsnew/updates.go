package whatsnew

import (
	"context"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/i18n"
	"github.com/mportal/mportal/media"
)

// Range names an update: the app moved from build FromBuild to build ToBuild.
type Range struct {
	AppID     string
	FromBuild int
	ToBuild   int
}

// Validate checks r, naming the query parameter (app, from_build, to_build) of a bad value.
func (r Range) Validate() error {
	if err := validAppID("app", r.AppID); err != nil {
		return err
	}
	if err := validBuild("from_build", r.FromBuild); err != nil {
		return err
	}
	if err := validBuild("to_build", r.ToBuild); err != nil {
		return err
	}
	if r.ToBuild < r.FromBuild {
		return apperr.Field("to_build", "to_build must not be less than from_build")
	}
	return nil
}

// Contains reports whether a card of build belongs to the update: from_build < build <= to_build.
func (r Range) Contains(appID string, build int) bool {
	return appID == r.AppID && build > r.FromBuild && build <= r.ToBuild
}

// LocalizedCard is a card in one language, as the app shows it.
type LocalizedCard struct {
	ID          string `json:"id"`
	BuildNumber int    `json:"build_number"`
	Order       int    `json:"order"`
	Title       string `json:"title"`
	Body        string `json:"body"`
	// ImageURL downloads the card's image for a few minutes; "" when the card has none.
	ImageURL string `json:"image_url"`
}

// ForUpdate returns the cards of every build in r, by build and order, in the caller's locale
// (falling back to zh-CN, then en). With Builds set, builds newer than any released on a channel
// of the caller's are left out: before, any employee read the cards of alpha and beta builds,
// features not yet shipped to them, by asking for a wide range. It returns unauthorized without
// a principal, invalid (with the query parameter) for a bad range, and unavailable when the
// database cannot be reached.
func (s *Service) ForUpdate(ctx context.Context, p *auth.Principal, r Range) ([]LocalizedCard, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if s.Builds != nil {
		top, known, err := s.Builds.HighestBuild(ctx, p, r.AppID)
		if err != nil {
			return nil, err
		}
		if known && int64(r.ToBuild) > top {
			r.ToBuild = int(top) // below FromBuild, the range holds nothing
		}
	}
	all, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	var cards []Card
	for _, c := range all {
		if r.Contains(c.AppID, c.BuildNumber) {
			cards = append(cards, c)
		}
	}
	if len(cards) == 0 {
		return nil, nil
	}
	locale := i18n.Locales[0]
	if s.Locale != nil {
		loc, err := s.Locale(ctx, p.UserID)
		if err != nil {
			return nil, err
		}
		if loc != "" {
			locale = loc
		}
	}
	out := make([]LocalizedCard, 0, len(cards))
	for _, c := range cards {
		lc := LocalizedCard{ID: c.ID, BuildNumber: c.BuildNumber, Order: c.Order,
			Title: i18n.Pick(c.Title, locale), Body: i18n.Pick(c.Body, locale)}
		if c.ImageKey != "" {
			u, err := s.Images.PresignGet(ctx, media.Images, c.ImageKey, media.DefaultPresignExpiry, "")
			if err != nil {
				return nil, err
			}
			lc.ImageURL = u.String()
		}
		out = append(out, lc)
	}
	return out, nil
}
