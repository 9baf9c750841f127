package release

import (
	"context"
	"slices"

	"github.com/mportal/mportal/internal/auth"
	datasync "github.com/mportal/mportal/sync"
)

// Includes reports whether the user behind p is in channel c: everybody is in stable; anybody
// with an explicit Member document (explicit) is in; and alpha and custom channels also take
// users by role or department. Beta takes explicit members only, so that seed users stay a
// chosen, capped group.
func (c *Channel) Includes(p *auth.Principal, explicit bool) bool {
	switch {
	case c.Kind == KindStable || explicit:
		return true
	case p == nil || (c.Kind != KindAlpha && c.Kind != KindCustom):
		return false
	case p.Department != "" && slices.Contains(c.Departments, p.Department):
		return true
	}
	for _, r := range p.Roles {
		if slices.Contains(c.Roles, string(r)) {
			return true
		}
	}
	return false
}

// visibleTo reports whether a user may see channel c at all: its members, and anybody when the
// channel takes self opt-in. Alpha and custom channels are otherwise invisible (not found).
func (c *Channel) visibleTo(p *auth.Principal, explicit bool) bool {
	return c.SelfOptIn || c.Includes(p, explicit)
}

// ChannelID is the _id of an app's channel.
func ChannelID(appID, channel string) string { return appID + "/" + channel }

// MemberID is the _id of a user's explicit membership.
func MemberID(appID, channel, userID string) string { return appID + "/" + channel + "/" + userID }

// TrackID is the _id of the track of an app, platform and channel.
func TrackID(appID string, p Platform, channel string) string {
	return appID + "/" + string(p) + "/" + channel
}

// BuildID is the _id of a build.
func BuildID(appID string, p Platform, build int64) string {
	return appID + "/" + string(p) + "/" + itoa(build)
}

// PublicBuildID is the id clients use for a build within its app: "<platform>-<build number>".
func PublicBuildID(p Platform, build int64) string { return string(p) + "-" + itoa(build) }

// grant and revoke tell the access hook about explicit membership changes; a failure is logged,
// not returned, because the membership itself has changed.
func (s *Service) grant(ctx context.Context, userID string, c *Channel) {
	if s.Access == nil {
		return
	}
	if err := s.Access.Grant(ctx, userID, datasync.ChannelKey(c.AppID, c.Name)); err != nil {
		s.log().Warn("release: grant channel access", "channel", c.ID, "user", userID, "error", err.Error())
	}
}

func (s *Service) revoke(ctx context.Context, userID string, c *Channel) {
	if s.Access == nil {
		return
	}
	if err := s.Access.Revoke(ctx, userID, datasync.ChannelKey(c.AppID, c.Name)); err != nil {
		s.log().Warn("release: revoke channel access", "channel", c.ID, "user", userID, "error", err.Error())
	}
}
