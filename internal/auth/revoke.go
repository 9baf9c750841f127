package auth

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// SessionInfo describes one of a user's active sessions.
type SessionInfo struct {
	ID         string    `json:"id"`
	DeviceID   string    `json:"device_id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// Current marks the session the request came from.
	Current bool `json:"current"`
}

func requirePrincipal(p *Principal) error {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "authentication required")
	}
	return nil
}

// Logout ends the caller's current session: its refresh token stops working at once and its
// access tokens at once on this instance (within Recheck elsewhere). It is idempotent and returns
// unauthorized only without a principal.
func (s *Sessions) Logout(ctx context.Context, p *Principal) error {
	if err := requirePrincipal(p); err != nil {
		return err
	}
	return s.end(ctx, p.UserID, []liveSession{{ID: p.SessionID, DeviceID: p.DeviceID}})
}

// ListSessions returns the caller's active sessions, most recently used first.
func (s *Sessions) ListSessions(ctx context.Context, p *Principal) ([]SessionInfo, error) {
	if err := requirePrincipal(p); err != nil {
		return nil, err
	}
	filter := bson.D{
		{Key: "user_id", Value: p.UserID},
		{Key: "revoked_at", Value: nil},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: s.Now.Stored()}}},
	}
	cur, err := s.coll(sessionsColl).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "last_used_at", Value: -1}}))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", mongodb.Translate(err, "session"))
	}
	var docs []sessionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list sessions: %w", mongodb.Translate(err, "session"))
	}
	out := make([]SessionInfo, 0, len(docs))
	for _, d := range docs {
		out = append(out, SessionInfo{
			ID: d.ID, DeviceID: d.DeviceID, CreatedAt: d.CreatedAt, LastUsedAt: d.LastUsedAt,
			ExpiresAt: d.ExpiresAt, Current: d.ID == p.SessionID,
		})
	}
	return out, nil
}

// RevokeSession ends one of the caller's own sessions. Another user's session, an unknown one and
// one already ended are all not_found, so session ids cannot be probed.
func (s *Sessions) RevokeSession(ctx context.Context, p *Principal, sessionID string) error {
	if err := requirePrincipal(p); err != nil {
		return err
	}
	sess, err := s.loadSession(ctx, sessionID)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return fmt.Errorf("revoke session: %w", err)
	}
	if sess == nil || sess.UserID != p.UserID || !sess.active(s.Now.Stored()) {
		return apperr.New(apperr.NotFound, "session not found")
	}
	return s.end(ctx, p.UserID, []liveSession{{ID: sessionID, DeviceID: sess.DeviceID}})
}

// RevokeUser ends every session of a user: the admin's "sign out everywhere", and what disabling a
// user or resetting a password does. Refresh stops at once; access tokens stop at once on this
// instance and within Recheck on the others.
func (s *Sessions) RevokeUser(ctx context.Context, userID string) error {
	live, err := s.liveSessions(ctx, userID, "")
	if err != nil {
		return fmt.Errorf("revoke sessions of user %s: %w", userID, err)
	}
	s.cache.markUserRevoked(userID)
	return s.end(ctx, userID, live)
}

// liveSession is an unrevoked session and its device.
type liveSession struct {
	ID       string `bson:"_id"`
	DeviceID string `bson:"device_id"`
}

// liveSessions lists userID's unrevoked sessions other than except.
func (s *Sessions) liveSessions(ctx context.Context, userID, except string) ([]liveSession, error) {
	filter := bson.D{{Key: "user_id", Value: userID}, {Key: "revoked_at", Value: nil}}
	cur, err := s.coll(sessionsColl).Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "device_id", Value: 1}}))
	if err != nil {
		return nil, mongodb.Translate(err, "session")
	}
	var docs []liveSession
	if err := cur.All(ctx, &docs); err != nil {
		return nil, mongodb.Translate(err, "session")
	}
	out := docs[:0]
	for _, d := range docs {
		if d.ID != except {
			out = append(out, d)
		}
	}
	return out, nil
}

// end revokes sessions of userID and signs their devices out (signOutDevices).
func (s *Sessions) end(ctx context.Context, userID string, sessions []liveSession) error {
	ids := make([]string, len(sessions))
	for i, l := range sessions {
		ids[i] = l.ID
	}
	if err := s.revoke(ctx, userID, ids); err != nil {
		return err
	}
	s.signOutDevices(ctx, userID, sessions)
	return nil
}

// signOutDevices tells Devices of each device of ended on which userID has no live session left:
// a phone signed out, or whose session was revoked, stops receiving the user's notifications
// (its push token is dropped; the app registers it again at its next sign-in). It is best
// effort, after the revocation that the caller asked for has happened: a failure is logged, and
// the device keeps its token until its next check-in, as before (failing the call instead made a
// logout or password change answer 5xx for something done, which a retry could not finish).
func (s *Sessions) signOutDevices(ctx context.Context, userID string, ended []liveSession) {
	if s.Devices == nil {
		return
	}
	warn := func(deviceID string, err error) {
		s.logger().Warn("auth: sign a device out", "user", userID, "device", deviceID, "error", err.Error())
	}
	seen := map[string]bool{}
	for _, e := range ended {
		if e.DeviceID == "" || seen[e.DeviceID] {
			continue
		}
		seen[e.DeviceID] = true
		n, err := s.coll(sessionsColl).CountDocuments(ctx, bson.D{
			{Key: "user_id", Value: userID}, {Key: "device_id", Value: e.DeviceID}, {Key: "revoked_at", Value: nil},
			{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: s.Now.Stored()}}},
		})
		if err != nil {
			warn(e.DeviceID, mongodb.Translate(err, "session"))
			continue
		}
		if n > 0 {
			continue // still signed in there
		}
		if err := s.Devices.SignedOut(ctx, userID, e.DeviceID); err != nil {
			warn(e.DeviceID, err)
		}
	}
}

// revoke marks sessions of userID revoked. The local cache learns first, so this instance rejects
// their access tokens from now on. Each write is an idempotent $set by _id under the session's
// lock (see touch); the revoked_at filter keeps the time of the first revocation.
func (s *Sessions) revoke(ctx context.Context, userID string, ids []string) error {
	now := s.Now.Stored()
	s.cache.markRevoked(s.cacheLimit(), now, ids...)
	for _, id := range ids {
		unlock := s.DB.Lock("session:" + id)
		_, err := s.coll(sessionsColl).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}, {Key: "revoked_at", Value: nil}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: now}}}})
		unlock()
		if err != nil {
			return fmt.Errorf("revoke session %s: %w", id, mongodb.Translate(err, "session"))
		}
	}
	return nil
}
