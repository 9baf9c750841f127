package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

func wantBadRefresh(t *testing.T, err error) {
	t.Helper()
	if e := wantCode(t, err, apperr.Unauthorized); e.Message != "invalid or expired refresh token" {
		t.Fatalf("message %q", e.Message)
	}
}

func TestRefreshRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.login(t, "E1001", alicePassword, "phone-1")
	f.clock.Advance(time.Minute)

	second, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("issues a new pair for the same session", func(t *testing.T) {
		if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
			t.Fatal("tokens were not rotated")
		}
		if second.SessionID != first.SessionID || second.UserID != "u1" {
			t.Fatalf("pair %+v", second)
		}
		if !second.RefreshExpiresAt.Equal(f.clock.Now().Add(DefaultRefreshTTL)) {
			t.Fatalf("refresh expiry %v was not extended", second.RefreshExpiresAt)
		}
	})
	t.Run("picks up role changes", func(t *testing.T) {
		f.accounts.update("u1", func(a *Account) { a.Roles = []Role{RoleEmployee, RoleOps} })
		third, err := f.s.Refresh(ctx, second.RefreshToken, "phone-1")
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.s.Authenticate(ctx, third.AccessToken)
		if err != nil || !p.HasRole(RoleOps) || p.HasRole(RoleApprover) {
			t.Fatalf("principal %+v err %v", p, err)
		}
		second = third
	})
	t.Run("revokes the session when a used token comes back", func(t *testing.T) {
		_, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1")
		wantBadRefresh(t, err)
		_, err = f.s.Refresh(ctx, second.RefreshToken, "phone-1")
		wantBadRefresh(t, err)
		_, err = f.s.Authenticate(ctx, second.AccessToken)
		wantCode(t, err, apperr.Unauthorized)
	})
}

// TestRefreshThatFailsKeepsTheToken: a refresh that fails after claiming its token (the new
// token not issued) leaves the token usable. Before, the client's retry found the token spent and
// the session was revoked as a stolen token's.
func TestRefreshThatFailsKeepsTheToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pair := f.login(t, "E1001", alicePassword, "phone-1")
	issuer := f.s.Tokens.Issuer
	f.s.Tokens.Issuer = "" // signing fails after the claim and the new refresh token's insert
	if _, err := f.s.Refresh(ctx, pair.RefreshToken, "phone-1"); err == nil {
		t.Fatal("refresh with a broken signer succeeded")
	}
	f.s.Tokens.Issuer = issuer
	next, err := f.s.Refresh(ctx, pair.RefreshToken, "phone-1")
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	mustAuthenticate(t, f.s, next.AccessToken)
}

// TestRefreshRetryAfterALostAnswer: a phone that lost the answer to its refresh presents the
// same token again; within RefreshRetryGrace, once, and while the lost pair is unused, that is a
// retry and not theft. Before, the user was logged out.
func TestRefreshRetryAfterALostAnswer(t *testing.T) {
	ctx := context.Background()
	t.Run("a retry gets a new pair and the lost one stops working", func(t *testing.T) {
		f := newFixture(t)
		first := f.login(t, "E1001", alicePassword, "phone-1")
		lost, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1")
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(RefreshRetryGrace - time.Second)
		retried, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1")
		if err != nil {
			t.Fatalf("retry within the grace: %v", err)
		}
		if retried.RefreshToken == lost.RefreshToken || retried.SessionID != first.SessionID {
			t.Fatalf("retry gave %+v", retried)
		}
		next, err := f.s.Refresh(ctx, retried.RefreshToken, "phone-1")
		if err != nil {
			t.Fatalf("the retry's token does not refresh: %v", err)
		}
		mustAuthenticate(t, f.s, next.AccessToken)
		// The lost pair's token coming back now is theft: the session ends.
		_, err = f.s.Refresh(ctx, lost.RefreshToken, "phone-1")
		wantBadRefresh(t, err)
		_, err = f.s.Refresh(ctx, next.RefreshToken, "phone-1")
		wantBadRefresh(t, err)
	})
	revoked := func(t *testing.T, f *fixture, sessionID string) {
		t.Helper()
		sess, err := f.s.loadSession(ctx, sessionID)
		if err != nil || sess.RevokedAt == nil {
			t.Fatalf("session %+v (err %v) is not revoked", sess, err)
		}
	}
	t.Run("after the grace it is theft", func(t *testing.T) {
		f := newFixture(t)
		first := f.login(t, "E1001", alicePassword, "phone-1")
		if _, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1"); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(RefreshRetryGrace + time.Second)
		_, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1")
		wantBadRefresh(t, err)
		revoked(t, f, first.SessionID)
	})
	t.Run("a second retry is theft", func(t *testing.T) {
		f := newFixture(t)
		first := f.login(t, "E1001", alicePassword, "phone-1")
		for i := 0; i < 2; i++ {
			if _, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1"); err != nil {
				t.Fatalf("refresh %d: %v", i, err)
			}
		}
		_, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1")
		wantBadRefresh(t, err)
		revoked(t, f, first.SessionID)
	})
	t.Run("once the new pair was used it is theft", func(t *testing.T) {
		f := newFixture(t)
		first := f.login(t, "E1001", alicePassword, "phone-1")
		second, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Refresh(ctx, second.RefreshToken, "phone-1"); err != nil {
			t.Fatal(err)
		}
		_, err = f.s.Refresh(ctx, first.RefreshToken, "phone-1")
		wantBadRefresh(t, err)
		revoked(t, f, first.SessionID)
	})
	t.Run("a refresh that fails after a retry took over leaves its token spent", func(t *testing.T) {
		// The first exchange is slow and fails; the phone's retry meanwhile got a new pair. The
		// failed exchange used to release its token, which could then start a second chain.
		f := newFixture(t)
		first := f.login(t, "E1001", alicePassword, "phone-1")
		issuer := f.s.Tokens.Issuer
		var retried *TokenPair
		f.s.beforeIssue = func() {
			f.s.beforeIssue = nil
			var err error
			if retried, err = f.s.Refresh(ctx, first.RefreshToken, "phone-1"); err != nil {
				t.Errorf("retry: %v", err)
			}
			f.s.Tokens.Issuer = "" // the first exchange now fails to sign
		}
		if _, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1"); err == nil {
			t.Fatal("the first exchange succeeded")
		}
		f.s.Tokens.Issuer = issuer
		if retried == nil {
			t.Fatal("no retry")
		}
		next, err := f.s.Refresh(ctx, retried.RefreshToken, "phone-1")
		if err != nil {
			t.Fatalf("the retry's pair: %v", err)
		}
		_, err = f.s.Refresh(ctx, first.RefreshToken, "phone-1")
		wantBadRefresh(t, err)
		_, err = f.s.Refresh(ctx, next.RefreshToken, "phone-1")
		wantBadRefresh(t, err) // the spent token came back: the session ended
	})
	t.Run("another device is refused and the token kept", func(t *testing.T) {
		f := newFixture(t)
		first := f.login(t, "E1001", alicePassword, "phone-1")
		if _, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1"); err != nil {
			t.Fatal(err)
		}
		_, err := f.s.Refresh(ctx, first.RefreshToken, "phone-2")
		wantBadRefresh(t, err)
		if _, err := f.s.Refresh(ctx, first.RefreshToken, "phone-1"); err != nil {
			t.Fatalf("the rightful device's retry: %v", err)
		}
	})
}

func TestRefreshRejects(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	t.Run("rejects another device without using up the token", func(t *testing.T) {
		pair := f.login(t, "E1001", alicePassword, "phone-1")
		_, err := f.s.Refresh(ctx, pair.RefreshToken, "phone-2")
		wantBadRefresh(t, err)
		if _, err := f.s.Refresh(ctx, pair.RefreshToken, "phone-1"); err != nil {
			t.Fatalf("the rightful device lost its token: %v", err)
		}
	})
	t.Run("rejects an expired refresh token", func(t *testing.T) {
		pair := f.login(t, "E1001", alicePassword, "phone-1")
		f.clock.Advance(DefaultRefreshTTL)
		_, err := f.s.Refresh(ctx, pair.RefreshToken, "phone-1")
		wantBadRefresh(t, err)
	})
	t.Run("rejects unknown and malformed tokens", func(t *testing.T) {
		for _, tok := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not base64 !!"} {
			_, err := f.s.Refresh(ctx, tok, "phone-1")
			wantBadRefresh(t, err)
		}
	})
	t.Run("rejects a malformed device id as invalid", func(t *testing.T) {
		_, err := f.s.Refresh(ctx, "x", "bad device")
		wantCode(t, err, apperr.Invalid)
	})
	t.Run("rejects a disabled user at login and refresh", func(t *testing.T) {
		pair := f.login(t, "E1002", "bob-secret-22", "tablet")
		f.accounts.update("u2", func(a *Account) { a.Active = false })
		_, err := f.s.Refresh(ctx, pair.RefreshToken, "tablet")
		wantBadRefresh(t, err)
		_, err = f.s.Login(ctx, LoginInput{Login: "E1002", Password: "bob-secret-22", DeviceID: "tablet"})
		wantCode(t, err, apperr.Unauthorized)
	})
}

func TestConcurrentRefreshOfOneToken(t *testing.T) {
	f := newFixture(t)
	f.s.Throttle = nil
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		pair := f.login(t, "E1001", alicePassword, "phone-1")
		var wins atomic.Int32
		winners := make(chan *TokenPair, 16)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, err := f.s.Refresh(ctx, pair.RefreshToken, "phone-1")
				switch {
				case err == nil:
					wins.Add(1)
					winners <- got
				case !apperr.Is(err, apperr.Unauthorized):
					t.Errorf("refresh failed oddly: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(winners)
		// One wins, one more is taken as the retry after a lost answer (RefreshRetryGrace), the
		// other 14 presented a used token: the session is revoked, the winners' pairs with it.
		if n := wins.Load(); n != 2 {
			t.Fatalf("round %d: %d refreshes succeeded, want exactly 2", round, n)
		}
		for winner := range winners {
			_, err := f.s.Refresh(ctx, winner.RefreshToken, "phone-1")
			wantBadRefresh(t, err)
		}
		sess, err := f.s.loadSession(ctx, pair.SessionID)
		if err != nil || sess.RevokedAt == nil {
			t.Fatalf("round %d: session %+v (err %v) is not revoked", round, sess, err)
		}
	}
}
