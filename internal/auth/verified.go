package auth

import (
	"strings"
	"sync/atomic"
	"time"
)

// verifiedTokens remembers access tokens whose signature and claims were already verified, until
// they expire. An Ed25519 verification costs about 65 µs and an app sends the same token for up to
// 15 minutes, so the authenticated hot path pays one map lookup instead. The map is keyed by the
// token itself: a SHA-256 of it (the key it had before) cost half a microsecond of every request and
// saved only memory (about 400 bytes an entry, 40 MB at the default bound of 100,000). Only the
// exact token bytes hit the cache, so a tampered token is always verified in full; whether its
// session is still active is checked separately, on every request.
type verifiedTokens struct {
	entries readMostly[verifiedToken]
}

type verifiedToken struct {
	p         Principal // the token's claims: never modified, never handed out
	expiresAt time.Time
	// shared is the Principal Authenticate last built from p and the session's cached user, handed
	// to every request of the token while that user's roles and department stay the same: a new
	// Principal per request was an allocation and a copy of every authenticated request
	// (about 5% of the update check's CPU).
	shared atomic.Pointer[Principal]
}

// verify returns the token's cache entry, or verifies the token and caches it. The
// cache never outlives the token: an entry is honoured only before the token's exp (without the
// parser's leeway, so it is never more lenient than Tokens.Verify). token may be backed by a
// buffer the caller reuses after the call (the API passes the request header's bytes uncopied):
// the cache keeps a copy of it, never token itself.
func (v *verifiedTokens) verify(t *Tokens, token string, now time.Time, limit int) (*verifiedToken, error) {
	if e, ok := v.entries.load(token); ok && now.Before(e.expiresAt) {
		return e, nil
	}
	p, exp, err := t.verify(token)
	if err != nil {
		return nil, err
	}
	e := &verifiedToken{p: *p, expiresAt: exp}
	v.entries.mu.Lock()
	defer v.entries.mu.Unlock()
	v.entries.makeRoomLocked(limit, func(old *verifiedToken) bool { return !now.Before(old.expiresAt) })
	v.entries.storeLocked(strings.Clone(token), e)
	return e, nil
}

// principal is the Principal of the token's claims with roles and department, shared with the
// token's other requests: the one built last when it has the same roles and department (the
// same slice: a session's cached roles are never modified, only replaced), else a new one.
func (e *verifiedToken) principal(roles []Role, department string) *Principal {
	if p := e.shared.Load(); p != nil && p.Department == department && len(p.Roles) == len(roles) &&
		(len(roles) == 0 || &p.Roles[0] == &roles[0]) {
		return p
	}
	p := e.p
	p.Roles, p.Department = roles, department
	e.shared.Store(&p)
	return &p
}

func (v *verifiedTokens) len() int { return v.entries.len() }
