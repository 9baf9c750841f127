package release

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// ChannelInput is the full set of a channel's settings (PUT semantics: a missing field is its
// zero value).
type ChannelInput struct {
	Roles       []string `json:"roles"`
	Departments []string `json:"departments"`
	SelfOptIn   bool     `json:"self_opt_in"`
	Cap         int      `json:"cap"`
	Retention   int      `json:"retention"`
}

// PutChannel creates a custom channel or replaces the settings of an existing one. Stable has
// everyone, so it takes no roles, departments, cap or opt-in; beta takes members by invitation
// and opt-in only, so it takes no roles or departments. Lowering a cap removes nobody: it only
// stops new joins until members leave. Devices counted in the channel whose users it no longer
// includes (a role or department taken off, and not explicit members) move to stable at once
// (moveOutsiders). It returns forbidden unless the actor has role ops or
// admin, not_found for an unknown app, and invalid (with the field) for bad settings.
func (s *Service) PutChannel(ctx context.Context, actor *auth.Principal, appID, name string, in ChannelInput) (*Channel, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if _, err := s.app(ctx, appID); err != nil {
		return nil, err
	}
	if err := validSlug("channel", name); err != nil {
		return nil, err
	}
	kind := ChannelKind(name)
	if kind != KindAlpha && kind != KindBeta && kind != KindStable {
		kind = KindCustom
	}
	roles, deps, err := validAudience(in.Roles, in.Departments)
	switch {
	case err != nil:
		return nil, err
	case in.Cap < 0 || in.Cap > maxCap:
		return nil, apperr.Field("cap", "cap must be between 0 (no cap) and %d", maxCap)
	case in.Retention < 0 || in.Retention > maxRetention:
		return nil, apperr.Field("retention", "retention must be between 0 (keep all) and %d", maxRetention)
	case kind == KindStable && (in.Cap != 0 || in.SelfOptIn || len(roles) > 0 || len(deps) > 0):
		return nil, apperr.Field("cap", "stable includes everybody: it takes no cap, self opt-in, roles or departments")
	case kind == KindBeta && (len(roles) > 0 || len(deps) > 0):
		return nil, apperr.Field("roles", "beta takes members by invitation and self opt-in, not by role or department")
	}
	id := ChannelID(appID, name)
	set := bson.D{
		{Key: "app_id", Value: appID}, {Key: "name", Value: name}, {Key: "kind", Value: kind},
		{Key: "roles", Value: roles}, {Key: "departments", Value: deps}, {Key: "self_opt_in", Value: in.SelfOptIn},
		{Key: "cap", Value: in.Cap}, {Key: "retention", Value: in.Retention},
	}
	// One upsert, atomic on MongoDB; created_at is only written when the channel is new.
	_, err = s.coll(channelsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
		{Key: "$set", Value: set}, {Key: "$setOnInsert", Value: bson.D{{Key: "created_at", Value: s.Now.Stored()}}},
	}, options.UpdateOne().SetUpsert(true))
	if err != nil && !mongodb.IsDuplicateKey(err) {
		return nil, mongodb.Translate(err, "channel")
	}
	if err != nil { // a concurrent first PUT inserted it: now it is an update
		if _, err := s.coll(channelsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}}); err != nil {
			return nil, mongodb.Translate(err, "channel")
		}
	}
	s.changed(ctx)
	c, err := s.channel(ctx, appID, name)
	if err != nil {
		return nil, err
	}
	s.moveOutsiders(ctx, c)
	if c.Cap > 0 {
		err = s.seatMembers(ctx, c)
	}
	return c, err
}

// moveOutsiders moves the devices counted in c whose users c no longer includes back to stable
// (Devices.NarrowChannel): ops just took a role or department off it. Before, those devices kept
// the channel, and its announcements and pushes, until their next check-in. c is the channel as
// read after the write, so the last of concurrent changes decides. It runs after every PUT of a
// channel other than stable, so repeating a PUT retries a move that failed; a failure is
// logged, not returned, since the change is made, and each device's next check-in decides its
// channel again anyway. An explicit member joining meanwhile may see a device moved and come
// back at its next check-in, as a user who gains a channel always does.
func (s *Service) moveOutsiders(ctx context.Context, c *Channel) {
	if s.Devices == nil || c.Kind == KindStable {
		return
	}
	ctx = context.WithoutCancel(ctx) // the change is made: finish its consequence
	members, err := mongodb.FindAll[Member](ctx, s.coll(membersColl), bson.D{{Key: "app_id", Value: c.AppID}, {Key: "channel", Value: c.Name}},
		"members", options.Find().SetProjection(bson.D{{Key: "user_id", Value: 1}}))
	if err == nil {
		explicit := make(map[string]bool, len(members))
		for _, m := range members {
			explicit[m.UserID] = true
		}
		var moved int
		moved, err = s.Devices.NarrowChannel(ctx, s.deviceAppIDs(ctx, c.AppID), c.Name,
			func(p *auth.Principal) bool { return c.Includes(p, explicit[p.UserID]) })
		if moved > 0 {
			s.log().Info("release: moved devices of users the channel no longer includes to stable", "channel", c.ID, "devices", moved)
		}
	}
	if err != nil {
		s.log().Warn("release: move devices of users the channel no longer includes to stable", "channel", c.ID, "error", err.Error())
	}
}

func (s *Service) channel(ctx context.Context, appID, name string) (*Channel, error) {
	if validSlug("channel", name) != nil {
		return nil, apperr.New(apperr.NotFound, "channel not found")
	}
	c, err := findOne[Channel](ctx, s.coll(channelsColl), ChannelID(appID, name), "channel")
	if err != nil {
		return nil, err
	}
	c.normalize()
	return c, nil
}

// normalize makes empty lists non-nil: responses never carry null lists.
func (c *Channel) normalize() {
	if c.Roles == nil {
		c.Roles = []string{}
	}
	if c.Departments == nil {
		c.Departments = []string{}
	}
}

// ListChannels returns an app's channels with their settings. It returns forbidden unless the
// actor has role ops or admin and not_found for an unknown app.
func (s *Service) ListChannels(ctx context.Context, actor *auth.Principal, appID string) ([]Channel, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if _, err := s.app(ctx, appID); err != nil {
		return nil, err
	}
	return s.channels(ctx, appID)
}

func (s *Service) channels(ctx context.Context, appID string) ([]Channel, error) {
	chs, err := mongodb.FindAll[Channel](ctx, s.coll(channelsColl), bson.D{{Key: "app_id", Value: appID}}, "channels",
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	for i := range chs {
		chs[i].normalize()
	}
	return chs, err
}
