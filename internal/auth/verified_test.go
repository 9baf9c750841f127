package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/mportal/mportal/internal/apperr"
)

func TestVerifiedTokenCache(t *testing.T) {
	f := newFixture(t)
	f.s.Throttle = nil
	ctx := context.Background()
	pair := f.login(t, "E1001", alicePassword, "phone-1")

	t.Run("remembers a verified token", func(t *testing.T) {
		mustAuthenticate(t, f.s, pair.AccessToken)
		if n := f.s.verified.len(); n != 1 {
			t.Fatalf("cache holds %d tokens, want 1", n)
		}
	})
	t.Run("keeps a copy of the token, not the caller's buffer", func(t *testing.T) {
		other := f.login(t, "E1001", alicePassword, "phone-3")
		buf := []byte(other.AccessToken)
		before := f.s.verified.len()
		mustAuthenticate(t, f.s, unsafe.String(&buf[0], len(buf)))
		for i := range buf { // the request's buffer is reused for the next request
			buf[i] = 'x'
		}
		mustAuthenticate(t, f.s, other.AccessToken)
		if n := f.s.verified.len(); n != before+1 {
			t.Fatalf("cache holds %d tokens, want %d: the key aliased the caller's buffer", n, before+1)
		}
	})
	t.Run("shares a principal between a token's requests until the user changes", func(t *testing.T) {
		p := mustAuthenticate(t, f.s, pair.AccessToken)
		if again := mustAuthenticate(t, f.s, pair.AccessToken); again != p {
			t.Fatal("a second request of the token built a new principal")
		}
		roles := slices.Clone(p.Roles)
		f.accounts.update("u1", func(a *Account) { a.Roles = []Role{RoleEmployee, RoleOps}; a.Department = "Field" })
		f.clock.Advance(f.s.Recheck)
		changed := mustAuthenticate(t, f.s, pair.AccessToken)
		if changed == p || !changed.HasRole(RoleOps) || changed.Department != "Field" || changed.UserID != "u1" {
			t.Fatalf("after the recheck: %+v (the same principal: %v)", changed, changed == p)
		}
		if !slices.Equal(p.Roles, roles) || p.Department == "Field" {
			t.Fatalf("the principal handed out before changed under its request: %+v", p)
		}
	})
	t.Run("verifies a tampered copy of a cached token in full", func(t *testing.T) {
		parts := strings.Split(pair.AccessToken, ".")
		sig := []byte(parts[2])
		sig[3] ^= 1
		_, err := f.s.Authenticate(ctx, parts[0]+"."+parts[1]+"."+string(sig))
		wantCode(t, err, apperr.Unauthorized)
	})
	t.Run("still checks the session of a cached token", func(t *testing.T) {
		other := f.login(t, "E1001", alicePassword, "phone-2")
		p := mustAuthenticate(t, f.s, other.AccessToken)
		if err := f.s.Logout(ctx, p); err != nil {
			t.Fatal(err)
		}
		_, err := f.s.Authenticate(ctx, other.AccessToken)
		wantCode(t, err, apperr.Unauthorized)
	})
	t.Run("stops honouring a cached token when it expires", func(t *testing.T) {
		f.clock.Advance(DefaultAccessTTL + clockLeeway + time.Second)
		_, err := f.s.Authenticate(ctx, pair.AccessToken)
		wantCode(t, err, apperr.Unauthorized)
	})
}

func TestVerifiedTokenCacheIsBounded(t *testing.T) {
	f := newFixture(t)
	f.s.Throttle = nil
	f.s.CacheSize = 8
	for i := 0; i < 20; i++ {
		mustAuthenticate(t, f.s, f.login(t, "E1001", alicePassword, fmt.Sprintf("device-%d", i)).AccessToken)
	}
	if n := f.s.verified.len(); n > 8 {
		t.Fatalf("cache holds %d tokens, want at most 8", n)
	}
}

// TestAuthenticateAtTakesTheRequestsTimeOnTheWallClock: on the wall clock (no clock of its own,
// as deployed), AuthenticateAt takes the time the caller passes (the request's arrival) instead
// of reading the clock, here for when its cached session is due for a recheck; with a clock of
// its own (tests), that clock wins.
func TestAuthenticateAtTakesTheRequestsTimeOnTheWallClock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pair := f.login(t, "E1001", alicePassword, "phone-1")
	now := f.clock.Now()
	wall, own := f.replica(), f.replica()
	wall.Now = nil
	for _, s := range []*Sessions{wall, own} { // each caches the session
		if _, err := s.AuthenticateAt(ctx, pair.AccessToken, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.s.Logout(ctx, mustAuthenticate(t, f.s, pair.AccessToken)); err != nil { // on another instance
		t.Fatal(err)
	}
	if _, err := wall.AuthenticateAt(ctx, pair.AccessToken, now.Add(time.Second)); err != nil {
		t.Fatalf("within the recheck, the cached session: %v", err)
	}
	_, err := wall.AuthenticateAt(ctx, pair.AccessToken, now.Add(f.s.Recheck))
	wantCode(t, err, apperr.Unauthorized) // rechecked at the time passed: the logout is seen
	if _, err := own.AuthenticateAt(ctx, pair.AccessToken, now.Add(f.s.Recheck)); err != nil {
		t.Fatalf("a clock of its own wins over the time passed (still within the recheck): %v", err)
	}
}
