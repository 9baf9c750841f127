// Package directory is the company directory: users (identity, department, roles, profile
// settings) and the devices they check in from.
//
// Uniqueness of employee numbers and e-mail addresses is kept in a lookup collection, user_keys,
// whose documents are claimed (inserted under the _id unique index) before a user is written. An
// insert is the one write that is atomic on the embedded FerretDB, so two concurrent creations of
// the same employee number cannot both succeed, and logins become _id lookups.
package directory

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
)

// User statuses. A disabled user cannot log in and has no live sessions.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// User is a person in the directory. PasswordHash never leaves the server.
type User struct {
	ID                 string      `bson:"_id" json:"id"`
	EmployeeNo         string      `bson:"employee_no" json:"employee_no"`
	Name               string      `bson:"name" json:"name"`
	Email              string      `bson:"email" json:"email"`
	Department         string      `bson:"department" json:"department"`
	Roles              []auth.Role `bson:"roles" json:"roles"`
	Locale             string      `bson:"locale" json:"locale"`
	Timezone           string      `bson:"timezone" json:"timezone"`
	Status             string      `bson:"status" json:"status"`
	PasswordHash       string      `bson:"password_hash" json:"-"`
	MustChangePassword bool        `bson:"must_change_password" json:"must_change_password"`
	CreatedAt          time.Time   `bson:"created_at" json:"created_at"`
	UpdatedAt          time.Time   `bson:"updated_at" json:"updated_at"`
}

// SessionRevoker ends every session of a user. auth.Sessions implements it; cmd wires it in.
type SessionRevoker interface {
	// RevokeUser revokes all sessions of userID at once. It returns unavailable when the store
	// cannot be reached.
	RevokeUser(ctx context.Context, userID string) error
}

// auth.Sessions is the SessionRevoker that cmd wires in.
var _ SessionRevoker = (*auth.Sessions)(nil)

// Users is the directory's user service. DB and Sessions are required; Argon defaults to
// auth.DefaultArgon2 and Now to time.Now.
type Users struct {
	DB       *mongodb.DB
	Argon    auth.Argon2Params
	Sessions SessionRevoker
	Now      clock.Func
	// View, when set, is kept up to date with every user this service writes.
	View *RecipientView
	// Devices, when set, is told about users whose roles or department an admin set (Update,
	// SetRoles, Import), so that their devices leave the release channels that no longer
	// include them at once (Devices.Reassess). A failure is logged: the change stands, and
	// each device's next check-in decides its channel again anyway.
	Devices ChannelFollower
	Logger  *slog.Logger
}

// ChannelFollower moves devices off release channels that their user's roles or department no
// longer include (Devices implements it).
type ChannelFollower interface {
	// Reassess moves the devices of userIDs counted in a channel that no longer includes their
	// user back to stable, and returns how many moved; unavailable when the database fails.
	Reassess(ctx context.Context, userIDs ...string) (moved int, err error)
}

var _ ChannelFollower = (*Devices)(nil)

// followChannels tells Devices that an admin set the roles or department of userIDs. It runs
// after the change was written, and also when the change changed nothing, so that repeating it
// retries a move that failed.
func (s *Users) followChannels(ctx context.Context, userIDs ...string) {
	if s.Devices == nil || len(userIDs) == 0 {
		return
	}
	// The change is made: finish its consequence even if the request goes away.
	if _, err := s.Devices.Reassess(context.WithoutCancel(ctx), userIDs...); err != nil {
		log := s.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("directory: move devices off channels their users left", "users", len(userIDs), "error", err.Error())
	}
}

const (
	usersCollection = "users"
	keysCollection  = "user_keys"
)

func (s *Users) users() *mongo.Collection { return s.DB.Collection(usersCollection) }
func (s *Users) keys() *mongo.Collection  { return s.DB.Collection(keysCollection) }

func (s *Users) argon() auth.Argon2Params {
	if s.Argon.Time == 0 || s.Argon.MemoryKiB == 0 || s.Argon.Threads == 0 {
		return auth.DefaultArgon2
	}
	return s.Argon
}

// EnsureIndexes creates the users indexes. The unique employee_no index backs up the user_keys
// claims; the others serve the admin list filters.
func (s *Users) EnsureIndexes(ctx context.Context) error {
	return mongodb.EnsureIndexes(ctx, s.users(),
		mongo.IndexModel{Keys: bson.D{{Key: "employee_no", Value: 1}}, Options: options.Index().SetUnique(true)},
		mongo.IndexModel{Keys: bson.D{{Key: "department", Value: 1}}},
		mongo.IndexModel{Keys: bson.D{{Key: "roles", Value: 1}}},
	)
}

// load reads one user by id; a missing user is not_found.
func (s *Users) load(ctx context.Context, id string) (*User, error) {
	var u User
	if err := s.users().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&u); err != nil {
		return nil, fmt.Errorf("load user %s: %w", id, mongodb.Translate(err, "user"))
	}
	return &u, nil
}

// revoke ends the sessions of userID; a missing revoker is a wiring bug, not a silent no-op.
func (s *Users) revoke(ctx context.Context, userID string) error {
	if s.Sessions == nil {
		return fmt.Errorf("revoke sessions of %s: directory.Users has no SessionRevoker", userID)
	}
	if err := s.Sessions.RevokeUser(ctx, userID); err != nil {
		return fmt.Errorf("revoke sessions of %s: %w", userID, err)
	}
	return nil
}
