package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
)

// Defaults for zero Sessions fields.
const (
	DefaultRefreshTTL = 30 * 24 * time.Hour
	DefaultRecheck    = 30 * time.Second
	// MaxRecheck bounds how long a revoked session's access tokens keep working on other replicas.
	MaxRecheck       = time.Minute
	defaultCacheSize = 100_000
)

// Collections owned by Sessions.
const (
	sessionsColl      = "sessions"       // one document per login: {_id: sid, user_id, device_id, ...}
	refreshTokensColl = "refresh_tokens" // {_id: sha256(token), session_id, user_id, expires_at}
	refreshUsesColl   = "refresh_uses"   // {_id: sha256(token)}: the Claim that consumes a token
)

// Sessions manages logins: one session per login on one device, kept alive by rotating refresh
// tokens, and checked by Authenticate on every request. Only hashes of refresh tokens are stored.
//
// Sessions is built in cmd with its fields set and must not be copied after first use.
type Sessions struct {
	DB       *mongodb.DB
	Accounts Accounts
	Tokens   *Tokens
	// Throttle slows down password guessing; nil disables throttling (tests only).
	Throttle *Throttle
	// RefreshTTL is the refresh-token lifetime; each refresh extends the session by as much.
	RefreshTTL time.Duration
	// Recheck is how long Authenticate trusts its cached view of a session (at most MaxRecheck):
	// a revocation made on another replica stops access tokens within this time.
	Recheck time.Duration
	// Argon is the cost for new password hashes and for the dummy hash that equalizes the timing
	// of logins for unknown users; zero means DefaultArgon2.
	Argon Argon2Params
	// Now is the clock; nil means time.Now.
	Now clock.Func
	// Usage, when set, records a sign_in at each successful login.
	Usage UsageRecorder
	// CacheSize bounds the session cache; zero means 100 000 sessions.
	CacheSize int
	// HashConcurrency bounds the argon2 computations (password checks at login and password
	// change) running at once; zero means GOMAXPROCS, capped at HashMemoryBudget of argon2 memory.
	HashConcurrency int
	// HashQueue is how many requests may wait for one of those slots; further ones get
	// unavailable with Retry-After. Zero means DefaultHashQueue; negative means none may wait.
	HashQueue int
	// Devices, when set, is told when a user's last live session on a device ends (logout,
	// revocation, a password change or reset, a replayed refresh token), so that the device
	// stops receiving the user's notifications.
	Devices DeviceSignOut
	// Logger receives what fails in the background of a call; nil means slog.Default().
	Logger *slog.Logger

	dummyOnce sync.Once
	dummyHash string
	gateOnce  sync.Once
	hashGate  *hashGate
	cache     sessionCache
	verified  verifiedTokens
	// rechecking holds the ids of the sessions a request is reading ahead (readSessionAhead).
	rechecking sync.Map
	// beforeIssue, when set (tests), runs as a refresh is about to issue its new pair.
	beforeIssue func()
}

func (s *Sessions) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// DeviceSignOut forgets what a device holds for a user who is no longer signed in on it: its
// push token (directory.Devices implements it).
type DeviceSignOut interface {
	SignedOut(ctx context.Context, userID, deviceID string) error
}

// sessionDoc is a stored session. revoked_at is set once and never cleared.
type sessionDoc struct {
	ID         string     `bson:"_id"`
	UserID     string     `bson:"user_id"`
	DeviceID   string     `bson:"device_id"`
	CreatedAt  time.Time  `bson:"created_at"`
	LastUsedAt time.Time  `bson:"last_used_at"`
	ExpiresAt  time.Time  `bson:"expires_at"`
	RevokedAt  *time.Time `bson:"revoked_at"`
	// Idle, when set, replaces RefreshTTL for this session (LoginInput.Idle).
	Idle time.Duration `bson:"idle,omitempty"`
}

func (d *sessionDoc) active(now time.Time) bool { return d.RevokedAt == nil && now.Before(d.ExpiresAt) }

type refreshDoc struct {
	ID        string    `bson:"_id"`
	SessionID string    `bson:"session_id"`
	UserID    string    `bson:"user_id"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// sessionTTL is how long a login or a refresh keeps sess alive: its own Idle, else RefreshTTL.
func (s *Sessions) sessionTTL(sess *sessionDoc) time.Duration {
	if sess.Idle > 0 {
		return sess.Idle
	}
	return s.refreshTTL()
}

func (s *Sessions) refreshTTL() time.Duration {
	if s.RefreshTTL > 0 {
		return s.RefreshTTL
	}
	return DefaultRefreshTTL
}

func (s *Sessions) recheck() time.Duration {
	if s.Recheck <= 0 {
		return DefaultRecheck
	}
	return min(s.Recheck, MaxRecheck)
}

func (s *Sessions) argon() Argon2Params {
	if s.Argon == (Argon2Params{}) {
		return DefaultArgon2
	}
	return s.Argon
}

func (s *Sessions) coll(name string) *mongo.Collection { return s.DB.Collection(name) }

// EnsureIndexes creates the indexes for listing a user's sessions and purging expired documents.
func (s *Sessions) EnsureIndexes(ctx context.Context) error {
	byUser := mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}}}
	byExpiry := mongo.IndexModel{Keys: bson.D{{Key: "expires_at", Value: 1}}}
	if err := mongodb.EnsureIndexes(ctx, s.coll(sessionsColl), byUser, byExpiry); err != nil {
		return err
	}
	if err := mongodb.EnsureIndexes(ctx, s.coll(refreshTokensColl), byExpiry); err != nil {
		return err
	}
	return mongodb.EnsureIndexes(ctx, s.coll(refreshUsesColl), byExpiry)
}

// Purge deletes expired sessions and refresh tokens and returns how many documents went. There
// are no TTL indexes on the embedded database, so cmd runs it periodically. A consumed token's
// record lives as long as the token would have, which keeps reuse detection working until then.
func (s *Sessions) Purge(ctx context.Context) (int64, error) {
	filter := bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: s.Now.Stored()}}}}
	var total int64
	for _, name := range []string{refreshUsesColl, refreshTokensColl, sessionsColl} {
		res, err := s.coll(name).DeleteMany(ctx, filter)
		if err != nil {
			return total, fmt.Errorf("purge %s: %w", name, mongodb.Translate(err, "session"))
		}
		total += res.DeletedCount
	}
	return total, nil
}

// loadSession reads a session by id; a missing session is not_found.
func (s *Sessions) loadSession(ctx context.Context, id string) (*sessionDoc, error) {
	var doc sessionDoc
	err := s.coll(sessionsColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if err != nil {
		return nil, mongodb.Translate(err, "session")
	}
	return &doc, nil
}

// rateLimited turns a throttle verdict into the error the API sends as 429 with Retry-After,
// rounded up to whole seconds as the header needs.
func rateLimited(wait time.Duration) error {
	retry := wait.Truncate(time.Second)
	if retry < wait {
		retry += time.Second
	}
	return &apperr.Error{Code: apperr.RateLimited, Message: "too many failed attempts, try again later", RetryAfter: retry}
}
