package release

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/release/artifact"
	"github.com/mportal/mportal/internal/whatsnew"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/push"
)

// Pusher is the push engine (push.Engine).
type Pusher interface {
	// Enqueue records n for delivery once per Key; invalid for a bad notification,
	// unavailable when the database cannot be reached.
	Enqueue(ctx context.Context, n push.Notification) (id string, created bool, err error)
}

// AccessHook is told when a user gains or loses explicit membership of a channel, so that data
// scoped to the channel (offline sync) follows. key is datasync.ChannelKey(app, channel). Both methods
// return unavailable when their store cannot be reached; membership changes are not undone when
// the hook fails, the failure is logged.
type AccessHook interface {
	Grant(ctx context.Context, userID, key string) error
	Revoke(ctx context.Context, userID, key string) error
}

// Users looks users up in the directory (directory.Users).
type Users interface {
	// Me returns the user; not_found for an unknown id.
	Me(ctx context.Context, userID string) (*directory.User, error)
}

// Cards lists what's-new cards (whatsnew.Service), to check a card linked to a build.
type Cards interface {
	// List returns the cards of one app; forbidden unless the actor has role ops.
	List(ctx context.Context, actor *auth.Principal, appID string) ([]whatsnew.Card, error)
}

// Service manages apps, channels, membership, builds and releases. DB and Store are required;
// Push is needed to notify, Users to invite, Cards to link what's-new cards; Access is optional.
type Service struct {
	DB     *mongodb.DB
	Store  media.Store
	Push   Pusher
	Users  Users
	Cards  Cards
	Access AccessHook
	// Members counts the audience of a channel (Reach); optional.
	Members Audiences
	// Devices, when set, moves devices off a channel when their user leaves it, is removed
	// from it, or is no longer included after ops changed its roles or departments
	// (directory.Devices), so channel audiences stop reaching them before their next check-in.
	Devices ChannelDevices
	// Limits bound artifact parsing; the zero value takes artifact.DefaultLimits.
	Limits artifact.Limits
	// OnChange is called after every successful write, so that this instance's update-check view
	// reloads at once (other instances notice the generation document).
	OnChange func()
	// Now is the clock; nil means time.Now.
	Now    clock.Func
	Logger *slog.Logger

	// beforeRetire, when set (tests), runs before retention deletes a build: what another ops
	// user does meanwhile.
	beforeRetire func(b *Build)
}

// ChannelDevices is the device registry as channel membership changes it.
type ChannelDevices interface {
	// LeftChannel moves userID's devices counted in channel of the app (named by its slug,
	// Android package or iOS bundle id) back to stable; unavailable when the database fails.
	LeftChannel(ctx context.Context, userID string, appIDs []string, channel string) error
	// NarrowChannel moves the devices counted in channel of the app back to stable when
	// includes, given their user's id, roles and department as the directory stores them now,
	// is false; it returns how many moved, and unavailable when the database fails.
	NarrowChannel(ctx context.Context, appIDs []string, channel string, includes func(*auth.Principal) bool) (int, error)
}

var _ ChannelDevices = (*directory.Devices)(nil)

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) coll(name string) *mongo.Collection { return s.DB.Collection(name) }

// requireOps authorizes the management methods: ops run distribution, admins may too.
func requireOps(p *auth.Principal) error { return auth.RequireRole(p, auth.RoleOps, auth.RoleAdmin) }

// requireUser authorizes the employee methods.
func requireUser(p *auth.Principal) error {
	if p == nil || p.UserID == "" {
		return auth.RequireRole(nil)
	}
	return nil
}

// EnsureIndexes creates the secondary indexes. On the embedded database they do not speed up
// queries (every query scans), but on MongoDB they keep the per-app listings cheap.
func (s *Service) EnsureIndexes(ctx context.Context) error {
	for name, keys := range map[string]bson.D{
		channelsColl: {{Key: "app_id", Value: 1}},
		membersColl:  {{Key: "app_id", Value: 1}, {Key: "channel", Value: 1}},
		buildsColl:   {{Key: "app_id", Value: 1}, {Key: "platform", Value: 1}, {Key: "build", Value: -1}},
		tracksColl:   {{Key: "app_id", Value: 1}},
	} {
		if err := mongodb.EnsureIndexes(ctx, s.coll(name), mongo.IndexModel{Keys: keys}); err != nil {
			return err
		}
	}
	return mongodb.EnsureIndexes(ctx, s.coll(membersColl), mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}}})
}

// changed ends every write: it overwrites the generation document with a fresh random token, which
// every instance's update-check view polls, and tells this instance's view at once. A failure is
// logged, not returned: the write itself succeeded, and the next write or a restart catches up.
func (s *Service) changed(ctx context.Context) {
	token := randomID(8)
	for attempt := 0; attempt < 3; attempt++ {
		_, err := s.coll(metaColl).UpdateOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: generationID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "token", Value: token}, {Key: "at", Value: s.Now.Stored()}}}},
			options.UpdateOne().SetUpsert(true))
		// Two first-ever upserts can race to insert; the loser simply updates on its retry.
		if err == nil || !mongodb.IsDuplicateKey(err) {
			if err != nil {
				s.log().Warn("release: touch generation", "error", err.Error())
			}
			break
		}
	}
	if s.OnChange != nil {
		s.OnChange()
	}
}

// randomID returns n random bytes as hex.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// findOne decodes the document with the given _id, translating not-found into what.
func findOne[T any](ctx context.Context, c *mongo.Collection, id, what string) (*T, error) {
	var v T
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&v); err != nil {
		return nil, mongodb.Translate(err, what)
	}
	return &v, nil
}
