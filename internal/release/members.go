package release

import (
	"context"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// Member sources.
const (
	SourceInvite = "invite"
	SourceSelf   = "self"
)

// Join makes the caller an explicit member of a channel that takes self opt-in. Joining a
// channel the caller is already in succeeds and changes nothing. It returns not_found for an
// unknown app or an alpha or custom channel invisible to the caller, forbidden for a channel
// without self opt-in, and conflict when a capped channel is full.
func (s *Service) Join(ctx context.Context, p *auth.Principal, appID, channel string) (*ChannelView, error) {
	if err := requireUser(p); err != nil {
		return nil, err
	}
	c, explicit, err := s.visibleChannel(ctx, p, appID, channel)
	if err != nil {
		return nil, err
	}
	if !c.Includes(p, explicit) {
		if !c.SelfOptIn {
			return nil, apperr.New(apperr.Forbidden, "the %s channel takes members by invitation only", c.Name)
		}
		if err := s.addMember(ctx, c, p.UserID, SourceSelf); err != nil {
			return nil, err
		}
		explicit = true
	}
	return &ChannelView{Name: c.Name, Kind: c.Kind, Member: true, CanLeave: explicit, Cap: c.Cap}, nil
}

// Leave ends the caller's explicit membership of a channel and frees their seat: the caller is
// back on stable (unless a role or department still includes them). Leaving a channel the
// caller is not an explicit member of succeeds. It returns not_found for an unknown app or a
// channel invisible to the caller.
func (s *Service) Leave(ctx context.Context, p *auth.Principal, appID, channel string) (*ChannelView, error) {
	if err := requireUser(p); err != nil {
		return nil, err
	}
	c, _, err := s.visibleChannel(ctx, p, appID, channel)
	if err != nil {
		return nil, err
	}
	if err := s.removeMember(ctx, c, p.UserID); err != nil {
		return nil, err
	}
	s.moveDevicesOff(ctx, c, p) // also when leaving again: a retry finishes what failed
	member := c.Includes(p, false)
	return &ChannelView{Name: c.Name, Kind: c.Kind, Member: member, CanJoin: c.SelfOptIn && !member, Cap: c.Cap}, nil
}

// visibleChannel loads a channel and the caller's explicit membership, hiding alpha and custom
// channels the caller may not see behind not_found.
func (s *Service) visibleChannel(ctx context.Context, p *auth.Principal, appID, channel string) (*Channel, bool, error) {
	if _, err := s.app(ctx, appID); err != nil {
		return nil, false, err
	}
	c, err := s.channel(ctx, appID, channel)
	if err != nil {
		return nil, false, err
	}
	_, err = findOne[Member](ctx, s.coll(membersColl), MemberID(appID, channel, p.UserID), "member")
	explicit := err == nil
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return nil, false, err
	}
	// Everybody knows beta exists (it is only closed); alpha and custom channels stay hidden.
	if !c.visibleTo(p, explicit) && c.Kind != KindBeta {
		return nil, false, apperr.New(apperr.NotFound, "channel not found")
	}
	return c, explicit, nil
}

// Invite makes a user an explicit member. Invitations take a seat like self opt-ins, so that a
// cap always bounds the group; inviting a member again changes nothing. It returns forbidden
// unless the actor has role ops or admin, not_found for an unknown app, channel or user,
// invalid for stable (everybody is in it) and conflict when the channel is full.
func (s *Service) Invite(ctx context.Context, actor *auth.Principal, appID, channel, userID string) (*Member, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	c, err := s.opsChannel(ctx, appID, channel)
	if err != nil {
		return nil, err
	}
	if s.Users == nil {
		return nil, apperr.New(apperr.Unavailable, "the directory is not available")
	}
	if _, err := s.Users.Me(ctx, userID); err != nil {
		return nil, err
	}
	if err := s.addMember(ctx, c, userID, SourceInvite); err != nil {
		return nil, err
	}
	return findOne[Member](ctx, s.coll(membersColl), MemberID(appID, channel, userID), "member")
}

// RemoveMember ends a user's explicit membership. It returns forbidden unless the actor has role
// ops or admin and not_found for an unknown app, channel or membership.
func (s *Service) RemoveMember(ctx context.Context, actor *auth.Principal, appID, channel, userID string) error {
	if err := requireOps(actor); err != nil {
		return err
	}
	c, err := s.opsChannel(ctx, appID, channel)
	if err != nil {
		return err
	}
	if _, err := findOne[Member](ctx, s.coll(membersColl), MemberID(appID, channel, userID), "member"); err != nil {
		return err
	}
	if err := s.removeMember(ctx, c, userID); err != nil {
		return err
	}
	who := &auth.Principal{UserID: userID}
	if u, err := s.Users.Me(ctx, userID); err == nil {
		who.Roles, who.Department = u.Roles, u.Department
	}
	s.moveDevicesOff(ctx, c, who)
	return nil
}

// ListMembers returns a channel's explicit members, oldest first. It returns forbidden unless
// the actor has role ops or admin and not_found for an unknown app or channel.
func (s *Service) ListMembers(ctx context.Context, actor *auth.Principal, appID, channel string) ([]Member, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if _, err := s.opsChannel(ctx, appID, channel); err != nil {
		return nil, err
	}
	return mongodb.FindAll[Member](ctx, s.coll(membersColl), bson.D{{Key: "app_id", Value: appID}, {Key: "channel", Value: channel}},
		"members", options.Find().SetSort(bson.D{{Key: "joined_at", Value: 1}, {Key: "_id", Value: 1}}))
}

func (s *Service) opsChannel(ctx context.Context, appID, channel string) (*Channel, error) {
	if _, err := s.app(ctx, appID); err != nil {
		return nil, err
	}
	c, err := s.channel(ctx, appID, channel)
	if err != nil {
		return nil, err
	}
	if c.Kind == KindStable {
		return nil, apperr.Field("channel", "everybody is on stable; it has no explicit members")
	}
	return c, nil
}

// addMember writes an explicit membership, first taking a seat when the channel is capped.
// Already being a member is success.
func (s *Service) addMember(ctx context.Context, c *Channel, userID, source string) error {
	id := MemberID(c.AppID, c.Name, userID)
	if _, err := findOne[Member](ctx, s.coll(membersColl), id, "member"); err == nil {
		return nil
	} else if !apperr.Is(err, apperr.NotFound) {
		return err
	}
	seat := 0
	if c.Cap > 0 {
		var err error
		if seat, err = s.claimSeat(ctx, c, userID); err != nil {
			return err
		}
	}
	m := Member{ID: id, AppID: c.AppID, Channel: c.Name, UserID: userID, Source: source, Seat: seat, JoinedAt: s.Now.Stored()}
	if _, err := s.coll(membersColl).InsertOne(ctx, m); err != nil {
		if seat > 0 {
			s.freeSeat(ctx, c, seat, userID)
		}
		if mongodb.IsDuplicateKey(err) { // the same user joined twice at once: one of them won
			return nil
		}
		return mongodb.Translate(err, "member")
	}
	s.grant(ctx, userID, c)
	s.changed(ctx)
	return nil
}

func (s *Service) removeMember(ctx context.Context, c *Channel, userID string) error {
	var m Member
	err := s.coll(membersColl).FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: MemberID(c.AppID, c.Name, userID)}}).Decode(&m)
	switch {
	case mongodb.IsNotFound(err):
		return nil
	case err != nil:
		return mongodb.Translate(err, "member")
	}
	// The membership goes first: a crash before the seat is freed leaves an orphan seat, which
	// claimSeat reclaims, never a member without a seat beyond the cap.
	if m.Seat > 0 {
		s.freeSeat(ctx, c, m.Seat, userID)
	}
	if c.Cap > 0 {
		// Members left without a seat (a cap set or lowered below the group) take the freed
		// one first: otherwise, once enough left, joiners took every seat while those members
		// stayed, and the group passed the cap again.
		if err := s.seatMembers(ctx, c); err != nil {
			s.log().Warn("release: seat the members of a capped channel", "channel", c.ID, "error", err.Error())
		}
	}
	s.revoke(ctx, userID, c)
	s.changed(ctx)
	return nil
}

// moveDevicesOff moves who's devices counted in c back to stable (Devices), unless a role or
// department still includes them: before, the devices kept the channel until their next
// check-in, and beta's announcements and pushes still reached a user removed from beta, or one
// who left it and never checked that device in again. A failure is logged: the devices then
// keep the channel until their next check-in, as before.
func (s *Service) moveDevicesOff(ctx context.Context, c *Channel, who *auth.Principal) {
	if s.Devices == nil || c.Includes(who, false) {
		return
	}
	if err := s.Devices.LeftChannel(ctx, who.UserID, s.deviceAppIDs(ctx, c.AppID), c.Name); err != nil {
		s.log().Warn("release: move a former member's devices to stable", "channel", c.ID, "error", err.Error())
	}
}

// deviceAppIDs returns the names devices of appID check in with: its slug, Android package and
// iOS bundle id (the slug alone when the app cannot be read).
func (s *Service) deviceAppIDs(ctx context.Context, appID string) []string {
	ids := []string{appID}
	if a, err := s.app(ctx, appID); err == nil {
		ids = slices.DeleteFunc(append(ids, a.AndroidPackage, a.IOSBundleID), func(id string) bool { return id == "" })
	}
	return ids
}
