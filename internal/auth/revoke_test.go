package auth

import (
	"context"
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
