package auth

import (
	"strings"
	"sync"
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
	mu sync.RWMutex
	m  map[string]verifiedToken
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
	v.mu.RLock()
	e, ok := v.m[token]
	v.mu.RUnlock()
	if ok && now.Before(e.expiresAt) {
		p := e.p // a copy: callers may not share one Principal across requests
		return &p, nil
	}
	p, exp, err := t.verify(token)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = make(map[string]verifiedToken)
	}
	if len(v.m) >= limit {
		for k, old := range v.m {
			if !now.Before(old.expiresAt) {
				delete(v.m, k)
			}
		}
		for k := range v.m { // random map order: evicts arbitrary entries
			if len(v.m) < limit-limit/8 {
				break
			}
			delete(v.m, k)
		}
	}
	v.m[strings.Clone(token)] = verifiedToken{p: *p, expiresAt: exp}
	return p, nil
}

func (v *verifiedTokens) len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.m)
}
