package auth

import (
	"strings"
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
	p         Principal
	expiresAt time.Time
}

// verify returns the token's Principal from the cache, or verifies the token and caches it. The
// cache never outlives the token: an entry is honoured only before the token's exp (without the
// parser's leeway, so it is never more lenient than Tokens.Verify). token may be backed by a
// buffer the caller reuses after the call (the API passes the request header's bytes uncopied):
// the cache keeps a copy of it, never token itself.
func (v *verifiedTokens) verify(t *Tokens, token string, now time.Time, limit int) (*Principal, error) {
	if e, ok := v.entries.load(token); ok && now.Before(e.expiresAt) {
		p := e.p // a copy: callers may not share one Principal across requests
		return &p, nil
	}
	p, exp, err := t.verify(token)
	if err != nil {
		return nil, err
	}
	v.entries.mu.Lock()
	defer v.entries.mu.Unlock()
	v.entries.makeRoomLocked(limit, func(old *verifiedToken) bool { return !now.Before(old.expiresAt) })
	v.entries.storeLocked(strings.Clone(token), &verifiedToken{p: *p, expiresAt: exp})
	return p, nil
}

func (v *verifiedTokens) len() int { return v.entries.len() }
