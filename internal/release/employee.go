package release

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// ChannelView is a channel as one employee sees it.
type ChannelView struct {
	Name string      `json:"name"`
	Kind ChannelKind `json:"kind"`
	// Member reports that the caller is in the channel (explicitly, by role or department, or
	// because it is stable).
	Member bool `json:"member"`
	// CanJoin: the channel takes self opt-in and the caller is not a member yet.
	CanJoin bool `json:"can_join"`
	// CanLeave: the caller is an explicit member and may go back to stable.
	CanLeave bool `json:"can_leave"`
	// Cap and SeatsLeft are set for capped channels the caller may join or has joined.
	Cap       int  `json:"cap,omitempty"`
	SeatsLeft *int `json:"seats_left,omitempty"`
}

// AppView is an app as one employee sees it, with the channels visible to them.
type AppView struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	AndroidPackage string        `json:"android_package,omitempty"`
	IOSBundleID    string        `json:"ios_bundle_id,omitempty"`
	Channels       []ChannelView `json:"channels"`
}

// Apps returns every app with the channels the caller can see. It returns unauthorized without
// a principal.
func (s *Service) Apps(ctx context.Context, p *auth.Principal) ([]AppView, error) {
	if err := requireUser(p); err != nil {
		return nil, err
	}
	apps, err := s.allApps(ctx)
	if err != nil {
		return nil, err
	}
	chs, err := mongodb.FindAll[Channel](ctx, s.coll(channelsColl), bson.D{}, "channels")
	if err != nil {
		return nil, err
	}
	mine, err := s.memberships(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	byApp := map[string][]Channel{}
	for _, c := range chs {
		byApp[c.AppID] = append(byApp[c.AppID], c)
	}
	out := make([]AppView, 0, len(apps))
	for _, a := range apps {
		views := s.channelViews(p, byApp[a.ID], mine, nil)
		out = append(out, AppView{ID: a.ID, Name: a.Name, AndroidPackage: a.AndroidPackage, IOSBundleID: a.IOSBundleID, Channels: views})
	}
	return out, nil
}

// Channels returns the channels of one app the caller can see: stable, those they are in, and
// those that take self opt-in, with seats left for capped ones. It returns not_found for an
// unknown app.
func (s *Service) Channels(ctx context.Context, p *auth.Principal, appID string) ([]ChannelView, error) {
	if err := requireUser(p); err != nil {
		return nil, err
	}
	if _, err := s.app(ctx, appID); err != nil {
		return nil, err
	}
	chs, err := s.channels(ctx, appID)
	if err != nil {
		return nil, err
	}
	mine, err := s.memberships(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	taken := map[string]int{}
	for _, c := range chs {
		if c.Cap > 0 && c.visibleTo(p, mine[c.ID]) {
			n, err := s.coll(membersColl).CountDocuments(ctx, bson.D{{Key: "app_id", Value: appID}, {Key: "channel", Value: c.Name}})
			if err != nil {
				return nil, fmt.Errorf("count members of %s: %w", c.Name, mongodb.Translate(err, "channel member"))
			}
			taken[c.ID] = int(n)
		}
	}
	return s.channelViews(p, chs, mine, taken), nil
}

// memberships returns the channel ids the user is an explicit member of.
func (s *Service) memberships(ctx context.Context, userID string) (map[string]bool, error) {
	ms, err := mongodb.FindAll[Member](ctx, s.coll(membersColl), bson.D{{Key: "user_id", Value: userID}}, "memberships")
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ms))
	for _, m := range ms {
		out[ChannelID(m.AppID, m.Channel)] = true
	}
	return out, nil
}

// channelViews renders the visible channels; taken, when given, holds the member counts of
// capped channels.
func (s *Service) channelViews(p *auth.Principal, chs []Channel, mine map[string]bool, taken map[string]int) []ChannelView {
	out := []ChannelView{}
	for _, c := range chs {
		explicit := mine[c.ID]
		if !c.visibleTo(p, explicit) {
			continue
		}
		member := c.Includes(p, explicit)
		v := ChannelView{Name: c.Name, Kind: c.Kind, Member: member, CanJoin: c.SelfOptIn && !member, CanLeave: explicit}
		if n, ok := taken[c.ID]; ok {
			left := max(c.Cap-n, 0)
			v.Cap, v.SeatsLeft = c.Cap, &left
		}
		out = append(out, v)
	}
	return out
}
