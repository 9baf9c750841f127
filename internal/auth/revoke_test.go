package auth

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

func mustAuthenticate(t *testing.T, s *Sessions, token string) *Principal {
	t.Helper()
	p, err := s.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return p
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pair := f.login(t, "E1001", alicePassword, "phone-1")
	other := f.login(t, "E1001", alicePassword, "tablet-1")
	p := mustAuthenticate(t, f.s, pair.AccessToken)
	if err := f.s.Logout(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Run("stops the access token at once", func(t *testing.T) {
		_, err := f.s.Authenticate(ctx, pair.AccessToken)
		wantCode(t, err, apperr.Unauthorized)
	})
	t.Run("stops the refresh token", func(t *testing.T) {
		_, err := f.s.Refresh(ctx, pair.RefreshToken, "phone-1")
		wantBadRefresh(t, err)
	})
	t.Run("keeps the user's other sessions", func(t *testing.T) {
		mustAuthenticate(t, f.s, other.AccessToken)
	})
	t.Run("is idempotent", func(t *testing.T) {
		if err := f.s.Logout(ctx, p); err != nil {
			t.Fatal(err)
		}
	})
}

func TestListSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	phone := f.login(t, "E1001", alicePassword, "phone-1")
	f.clock.Advance(time.Minute)
	tablet := f.login(t, "E1001", alicePassword, "tablet-1")
	f.clock.Advance(time.Minute)
	gone := f.login(t, "E1001", alicePassword, "old-phone")
	f.login(t, "E1002", "bob-secret-22", "bobs-phone")
	if err := f.s.Logout(ctx, mustAuthenticate(t, f.s, gone.AccessToken)); err != nil {
		t.Fatal(err)
	}

	list, err := f.s.ListSessions(ctx, mustAuthenticate(t, f.s, phone.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("lists only the caller's active sessions, newest use first", func(t *testing.T) {
		if len(list) != 2 || list[0].ID != tablet.SessionID || list[1].ID != phone.SessionID {
			t.Fatalf("sessions %+v", list)
		}
	})
	t.Run("marks the current session", func(t *testing.T) {
		if list[0].Current || !list[1].Current {
			t.Fatalf("sessions %+v", list)
		}
	})
	t.Run("reports device and times", func(t *testing.T) {
		s := list[1]
		if s.DeviceID != "phone-1" || !s.CreatedAt.Equal(f.clock.Now().Add(-2*time.Minute)) || !s.ExpiresAt.Equal(phone.RefreshExpiresAt) {
			t.Fatalf("session %+v", s)
		}
	})
}

func TestRevokeSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alicePhone := f.login(t, "E1001", alicePassword, "phone-1")
	aliceTablet := f.login(t, "E1001", alicePassword, "tablet-1")
	bob := mustAuthenticate(t, f.s, f.login(t, "E1002", "bob-secret-22", "bobs-phone").AccessToken)
	alice := mustAuthenticate(t, f.s, alicePhone.AccessToken)

	t.Run("hides another user's session as not found", func(t *testing.T) {
		wantCode(t, f.s.RevokeSession(ctx, bob, aliceTablet.SessionID), apperr.NotFound)
		mustAuthenticate(t, f.s, aliceTablet.AccessToken)
	})
	t.Run("reports an unknown session as not found", func(t *testing.T) {
		wantCode(t, f.s.RevokeSession(ctx, alice, "no-such-session"), apperr.NotFound)
	})
	t.Run("ends the caller's own other session", func(t *testing.T) {
		if err := f.s.RevokeSession(ctx, alice, aliceTablet.SessionID); err != nil {
			t.Fatal(err)
		}
		_, err := f.s.Authenticate(ctx, aliceTablet.AccessToken)
		wantCode(t, err, apperr.Unauthorized)
		mustAuthenticate(t, f.s, alicePhone.AccessToken)
	})
	t.Run("reports an already revoked session as not found", func(t *testing.T) {
		wantCode(t, f.s.RevokeSession(ctx, alice, aliceTablet.SessionID), apperr.NotFound)
	})
}

func TestRevokeUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// replica is a second instance on the same database, with its own session cache.
	replica := &Sessions{DB: f.s.DB, Accounts: f.accounts, Tokens: f.s.Tokens, Recheck: 30 * time.Second, Argon: cheap, Now: f.clock.Now}
	phone := f.login(t, "E1001", alicePassword, "phone-1")
	tablet := f.login(t, "E1001", alicePassword, "tablet-1")
	bob := f.login(t, "E1002", "bob-secret-22", "bobs-phone")
	for _, tok := range []string{phone.AccessToken, tablet.AccessToken} {
		mustAuthenticate(t, f.s, tok)
		mustAuthenticate(t, replica, tok)
	}
	if err := f.s.RevokeUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}

	t.Run("stops refresh at once", func(t *testing.T) {
		for pair, device := range map[*TokenPair]string{phone: "phone-1", tablet: "tablet-1"} {
			_, err := replica.Refresh(ctx, pair.RefreshToken, device)
			wantBadRefresh(t, err)
		}
	})
	t.Run("stops access tokens at once on the revoking instance", func(t *testing.T) {
		_, err := f.s.Authenticate(ctx, phone.AccessToken)
		wantCode(t, err, apperr.Unauthorized)
	})
	t.Run("stops access tokens on other instances within Recheck", func(t *testing.T) {
		mustAuthenticate(t, replica, tablet.AccessToken) // still cached as active
		f.clock.Advance(30 * time.Second)
		_, err := replica.Authenticate(ctx, tablet.AccessToken)
		wantCode(t, err, apperr.Unauthorized)
	})
	t.Run("leaves other users alone", func(t *testing.T) {
		mustAuthenticate(t, replica, bob.AccessToken)
		if _, err := f.s.Refresh(ctx, bob.RefreshToken, "bobs-phone"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("is idempotent", func(t *testing.T) {
		if err := f.s.RevokeUser(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
	})
}

// signOuts records the devices Sessions signs out.
type signOuts struct {
	mu   sync.Mutex
	got  []string
	fail error
}

func (s *signOuts) SignedOut(_ context.Context, userID, deviceID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, userID+"/"+deviceID)
	return s.fail
}

func (s *signOuts) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.got
	s.got = nil
	slices.Sort(got)
	return got
}

// A device whose user's last session on it ends is signed out (its push token dropped), so a
// phone signed out or revoked stops getting the user's notifications; a device where the user
// is still signed in is not. Before, only disabling the user stopped them.
func TestEndedSessionsSignTheirDevicesOut(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	out := &signOuts{}
	f.s.Devices = out
	want := func(t *testing.T, want ...string) {
		t.Helper()
		if got := out.take(); !slices.Equal(got, want) {
			t.Fatalf("signed out %v, want %v", got, want)
		}
	}
	principal := func(pair *TokenPair) *Principal {
		p, err := f.s.Authenticate(ctx, pair.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("logout", func(t *testing.T) {
		first := f.login(t, "E1001", alicePassword, "phone-1")
		second := f.login(t, "E1001", alicePassword, "phone-1")
		if err := f.s.Logout(ctx, principal(first)); err != nil {
			t.Fatal(err)
		}
		want(t) // still signed in on phone-1
		if err := f.s.Logout(ctx, principal(second)); err != nil {
			t.Fatal(err)
		}
		want(t, "u1/phone-1")
	})
	t.Run("one session revoked from another device", func(t *testing.T) {
		lost := f.login(t, "E1001", alicePassword, "lost-phone")
		here := f.login(t, "E1001", alicePassword, "phone-2")
		if err := f.s.RevokeSession(ctx, principal(here), lost.SessionID); err != nil {
			t.Fatal(err)
		}
		want(t, "u1/lost-phone")
	})
	t.Run("a password change signs the other devices out", func(t *testing.T) {
		f.login(t, "E1002", "bob-secret-22", "bob-phone")
		desk := f.login(t, "E1002", "bob-secret-22", "bob-desk")
		if err := f.s.ChangePassword(ctx, principal(desk), "bob-secret-22", "bob-secret-23"); err != nil {
			t.Fatal(err)
		}
		want(t, "u2/bob-phone")
	})
	t.Run("revoking every session signs every device out", func(t *testing.T) {
		if err := f.s.RevokeUser(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		want(t, "u1/phone-2")
	})
	t.Run("a sign-out that fails does not fail the logout", func(t *testing.T) {
		// The session is revoked by then: failing made the app's logout answer 503, and its
		// retry, with a revoked token, could not finish it.
		out.fail = errors.New("database down")
		defer func() { out.fail = nil }()
		pair := f.login(t, "E1001", alicePassword, "phone-4")
		if err := f.s.Logout(ctx, principal(pair)); err != nil {
			t.Fatalf("logout = %v", err)
		}
		want(t, "u1/phone-4")
	})
	t.Run("a replayed refresh token", func(t *testing.T) {
		first := f.login(t, "E1001", alicePassword, "phone-3")
		second, err := f.s.Refresh(ctx, first.RefreshToken, "phone-3")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Refresh(ctx, second.RefreshToken, "phone-3"); err != nil {
			t.Fatal(err)
		}
		_, err = f.s.Refresh(ctx, first.RefreshToken, "phone-3")
		wantBadRefresh(t, err)
		want(t, "u1/phone-3")
	})
}
