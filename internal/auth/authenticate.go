package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

var errSessionGone = errors.New("session revoked, expired or not found")

// Authenticate verifies a bearer access token and checks that its session is still active. It
// returns unauthorized for a bad token, an ended session or a disabled user, and unavailable when
// the session cannot be checked.
//
// The session check is one map read: each instance caches what it last read of a session and of
// its user, and reads both again (by _id) at most every Recheck: a busy session's one request a
// little ahead of that (readSessionAhead). Revocations on this instance update the cache at once;
// those on other instances, and disabling a user (which revokes the sessions), take effect within
// Recheck. The access token's own expiry is the other bound.
//
// The Principal's roles and department are the user's as of that read, not the token's claims:
// a token lives up to 15 minutes, and a demoted admin must lose the admin endpoints within Recheck
// like a disabled user, on every instance. A login or a refresh on this instance updates the
// cached roles at once.
//
// bearerToken is not retained past the call, so a caller may pass a string that views a buffer
// it reuses afterwards. The Principal may be shared with the token's other requests, at once:
// it must not be modified.
func (s *Sessions) Authenticate(ctx context.Context, bearerToken string) (*Principal, error) {
	return s.AuthenticateAt(ctx, bearerToken, time.Time{})
}

// AuthenticateAt is Authenticate for a caller that has read the wall clock just before: at (the
// request's arrival) is the time it checks against unless the Sessions have a clock of their own
// (clock.Func.At).
func (s *Sessions) AuthenticateAt(ctx context.Context, bearerToken string, at time.Time) (*Principal, error) {
	now := s.Now.At(at).Truncate(time.Millisecond) // as Stored
	vt, err := s.verified.verify(s.Tokens, bearerToken, now, s.cacheLimit())
	if err != nil {
		return nil, err
	}
	p := &vt.p // the claims; the Principal returned is built below
	e, ok := s.cache.get(p.SessionID)
	switch age := now.Sub(e.checkedAt); {
	case !ok || (!e.revoked && age >= s.recheck()):
		if e, err = s.readSession(ctx, p.SessionID, now); err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
	case !e.revoked && age >= s.recheck()-s.readAhead():
		e = s.readSessionAhead(ctx, p.SessionID, e, now)
	}
	if e.revoked || e.disabled || !now.Before(e.expiresAt) || e.userID != p.UserID || e.deviceID != p.DeviceID {
		return nil, apperr.Wrap(errSessionGone, apperr.Unauthorized, "invalid or expired access token")
	}
	return vt.principal(e.roles, e.department), nil
}

// ReadAhead is how long before its entry expires (Recheck) a session is read again, by one of its
// requests (at most half of Recheck).
const ReadAhead = 5 * time.Second

func (s *Sessions) readAhead() time.Duration { return min(ReadAhead, s.recheck()/2) }

// readSessionAhead reads session id again shortly before its entry e expires, for one request of
// the session at a time: the others go on with e meanwhile, which is still within Recheck. Without
// it, a session's requests in flight when its entry expired each read the same two documents: 64
// connections of one app made 128 reads at once, each a scan on FerretDB, and all 64 requests
// waited for them (likely the update check's p99 of 3.7x bare Fiber's under wrk in one run of
// four; at most 1.44x in 21 runs since). A read that fails leaves e in force: past
// Recheck every request reads, and fails, as before.
func (s *Sessions) readSessionAhead(ctx context.Context, id string, e cachedSession, now time.Time) cachedSession {
	if _, busy := s.rechecking.LoadOrStore(id, struct{}{}); busy {
		return e
	}
	defer s.rechecking.Delete(id)
	if fresh, err := s.readSession(ctx, id, now); err == nil {
		return fresh
	}
	return e
}

// readSession loads a session and its user into the cache. A missing session is cached as
// revoked: session ids are random and never reused, so it can only have been purged. So is a
// session whose user is gone.
func (s *Sessions) readSession(ctx context.Context, id string, now time.Time) (cachedSession, error) {
	sess, err := s.loadSession(ctx, id)
	var e cachedSession
	switch {
	case apperr.Is(err, apperr.NotFound):
		e = cachedSession{revoked: true, checkedAt: now}
	case err != nil:
		return cachedSession{}, err
	default:
		e = cachedSession{userID: sess.UserID, deviceID: sess.DeviceID, expiresAt: sess.ExpiresAt,
			revoked: sess.RevokedAt != nil, checkedAt: now}
	}
	if !e.revoked {
		acc, err := s.Accounts.Account(ctx, sess.UserID)
		switch {
		case apperr.Is(err, apperr.NotFound):
			e.revoked = true
		case err != nil:
			return cachedSession{}, fmt.Errorf("load user %s: %w", sess.UserID, err)
		default:
			e.withAccount(acc)
		}
	}
	return s.cache.put(id, e, s.cacheLimit(), now.Add(-s.recheck())), nil
}

// remember caches what a login or a refresh just read of sess and its user, so that this
// instance authorizes the new access token with the roles it carries, without waiting for Recheck.
func (s *Sessions) remember(sess *sessionDoc, acc *Account, expiresAt time.Time) {
	now := s.Now.Stored()
	e := cachedSession{userID: sess.UserID, deviceID: sess.DeviceID, expiresAt: expiresAt, checkedAt: now}
	e.withAccount(acc)
	s.cache.put(sess.ID, e, s.cacheLimit(), now.Add(-s.recheck()))
}

func (s *Sessions) cacheLimit() int {
	if s.CacheSize > 0 {
		return s.CacheSize
	}
	return defaultCacheSize
}

// sessionCache is what this instance last read of each session. Revocation is final, so an entry
// marked revoked is never replaced by an older read that still saw the session active.
type sessionCache struct {
	entries readMostly[cachedSession]
}

type cachedSession struct {
	userID, deviceID string
	expiresAt        time.Time
	revoked          bool
	checkedAt        time.Time
	// The user as read with the session. roles is shared by every Principal built from this
	// entry and must not be modified.
	roles      []Role
	department string
	disabled   bool
}

func (e *cachedSession) withAccount(acc *Account) {
	e.roles, e.department, e.disabled = acc.Roles, acc.Department, !acc.Active
}

func (c *sessionCache) get(id string) (cachedSession, bool) {
	if e, ok := c.entries.load(id); ok {
		return *e, true
	}
	return cachedSession{}, false
}

// put stores e unless id is already known revoked, and returns the entry now in force. When the
// cache is full it first drops entries read before staleBefore (they would be read again anyway).
func (c *sessionCache) put(id string, e cachedSession, limit int, staleBefore time.Time) cachedSession {
	c.entries.mu.Lock()
	defer c.entries.mu.Unlock()
	old, ok := c.entries.load(id)
	if ok && old.revoked {
		return *old
	}
	if !ok {
		c.entries.makeRoomLocked(limit, func(v *cachedSession) bool { return v.checkedAt.Before(staleBefore) })
	}
	c.entries.storeLocked(id, &e)
	return e
}

// markRevoked records that sessions ids are revoked. Ids not cached yet get a revoked entry too,
// so that a read racing with the revocation cannot cache the session as active; while the cache is
// full such entries are skipped, and that race is then bounded by Recheck like any other.
func (c *sessionCache) markRevoked(limit int, now time.Time, ids ...string) {
	c.entries.mu.Lock()
	defer c.entries.mu.Unlock()
	for _, id := range ids {
		var e cachedSession
		if old, ok := c.entries.load(id); ok {
			e = *old
		} else if c.entries.len() >= limit {
			continue
		}
		e.revoked, e.checkedAt = true, now
		c.entries.storeLocked(id, &e)
	}
}

// markUserRevoked records that every cached session of userID is revoked.
func (c *sessionCache) markUserRevoked(userID string) {
	c.entries.mu.Lock()
	defer c.entries.mu.Unlock()
	c.entries.rangeLocked(func(id string, old *cachedSession) bool {
		if old.userID == userID {
			e := *old
			e.revoked = true
			c.entries.storeLocked(id, &e)
		}
		return true
	})
}
