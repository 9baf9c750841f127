package release

import (
	"context"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/push"
)

// Audiences resolves an audience to the active users it reaches (directory.Recipients).
type Audiences interface {
	// Members lists the active users aud reaches, each with their pushable devices;
	// unavailable when the directory cannot be read.
	Members(ctx context.Context, aud push.Audience) ([]directory.Member, error)
}

// ChannelReach estimates who a release on a channel can reach: the channel's active users (as
// its release notification would address them) and their devices that take a push.
type ChannelReach struct {
	AppID   string `json:"app_id"`
	Channel string `json:"channel"`
	// Everyone is true for stable, which includes every active user.
	Everyone bool `json:"everyone"`
	// Users counts the active users in the channel.
	Users int `json:"users"`
	// Devices counts those users' devices that can take a push.
	Devices int `json:"devices"`
}

// Reach estimates the audience of channel: everybody for stable, otherwise the explicit members
// plus the channel's roles and departments, counted among active users. A staged release at N%
// reaches about N% of them (each user's cohort is a hash, so the share is statistical). It
// returns forbidden unless the actor has role ops or admin, not_found for an unknown app or
// channel, and unavailable when the database cannot be read or no directory is configured.
func (s *Service) Reach(ctx context.Context, actor *auth.Principal, appID, channel string) (*ChannelReach, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if _, err := s.app(ctx, appID); err != nil {
		return nil, err
	}
	ch, err := s.channel(ctx, appID, channel)
	if err != nil {
		return nil, err
	}
	if s.Members == nil {
		return nil, apperr.New(apperr.Unavailable, "no directory to estimate the channel's reach")
	}
	aud, err := s.channelAudience(ctx, ch)
	if err != nil {
		return nil, err
	}
	ms, err := s.Members.Members(ctx, aud)
	if err != nil {
		return nil, err
	}
	r := &ChannelReach{AppID: appID, Channel: ch.Name, Everyone: aud.All, Users: len(ms)}
	for _, m := range ms {
		r.Devices += m.PushDevices
	}
	return r, nil
}

// channelAudience is who a channel includes, in the push engine's terms: everybody for stable,
// otherwise the explicit members plus the channel's roles and departments.
func (s *Service) channelAudience(ctx context.Context, ch *Channel) (push.Audience, error) {
	aud := push.Audience{All: ch.Kind == KindStable}
	if aud.All {
		return aud, nil
	}
	aud.Roles, aud.Departments = ch.Roles, ch.Departments
	ms, err := mongodb.FindAll[Member](ctx, s.coll(membersColl), bson.D{{Key: "app_id", Value: ch.AppID}, {Key: "channel", Value: ch.Name}}, "members")
	if err != nil {
		return aud, err
	}
	for _, m := range ms {
		aud.UserIDs = append(aud.UserIDs, m.UserID)
	}
	return aud, nil
}

// BuildIcon opens the PNG icon parsed from a build and returns its size. It returns forbidden
// unless the actor has role ops or admin, not_found for an unknown app or build or a build
// without an icon, and unavailable when the store cannot be reached. The caller closes the
// reader.
func (s *Service) BuildIcon(ctx context.Context, actor *auth.Principal, appID, buildID string) (io.ReadCloser, int64, error) {
	if err := requireOps(actor); err != nil {
		return nil, 0, err
	}
	b, err := s.build(ctx, appID, buildID)
	if err != nil {
		return nil, 0, err
	}
	if b.IconKey == "" {
		return nil, 0, apperr.New(apperr.NotFound, "build %s has no icon", buildID)
	}
	st, err := s.Store.Stat(ctx, media.Images, b.IconKey)
	if err != nil {
		return nil, 0, err
	}
	r, err := s.Store.Open(ctx, media.Images, b.IconKey, 0, -1)
	if err != nil {
		return nil, 0, err
	}
	return r, st.Size, nil
}
