package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.accounts.update("u1", func(a *Account) { a.MustChangePassword = true })
	current := f.login(t, "E1001", alicePassword, "phone-1")
	other := f.login(t, "E1001", alicePassword, "tablet-1")
	p := mustAuthenticate(t, f.s, current.AccessToken)
	const newPassword = "a-much-better-one"

	rejected := []struct {
		name, current, next, field string
	}{
		{"rejects a wrong current password", "wrong-password", newPassword, "current_password"},
		{"rejects a missing current password", "", newPassword, "current_password"},
		{"rejects a short new password", alicePassword, "short", "new_password"},
		{"rejects an overlong new password", alicePassword, strings.Repeat("x", MaxPasswordLen+1), "new_password"},
		{"rejects an unchanged password", alicePassword, alicePassword, "new_password"},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			err := f.s.ChangePassword(ctx, p, tt.current, tt.next)
			if e := wantCode(t, err, apperr.Invalid); e.Field != tt.field {
				t.Fatalf("field %q, want %q", e.Field, tt.field)
			}
		})
	}

	if err := f.s.ChangePassword(ctx, p, alicePassword, newPassword); err != nil {
		t.Fatal(err)
	}
	t.Run("replaces the password", func(t *testing.T) {
		_, err := f.s.Login(ctx, LoginInput{Login: "E1001", Password: alicePassword, DeviceID: "d9"})
		wantCode(t, err, apperr.Unauthorized)
		f.login(t, "E1001", newPassword, "d9")
	})
	t.Run("clears the must-change flag", func(t *testing.T) {
		if f.accounts.get("u1").MustChangePassword {
			t.Fatal("flag still set")
		}
		next, err := f.s.Refresh(ctx, current.RefreshToken, "phone-1")
		if err != nil {
			t.Fatal(err)
		}
		if next.PasswordChangeRequired || mustAuthenticate(t, f.s, next.AccessToken).PasswordChangeRequired {
			t.Fatal("refreshed tokens still require a password change")
		}
	})
	t.Run("ends the user's other sessions", func(t *testing.T) {
		_, err := f.s.Authenticate(ctx, other.AccessToken)
		wantCode(t, err, apperr.Unauthorized)
		_, err = f.s.Refresh(ctx, other.RefreshToken, "tablet-1")
		wantBadRefresh(t, err)
	})
}

// TestChangePasswordLosesToAReset: a reset made while a change checks the current password wins.
// Before, the change wrote its hash over the reset's, and the one-time password the admin handed
// out did not work while the old session holder's new password did.
func TestChangePasswordLosesToAReset(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := mustAuthenticate(t, f.s, f.login(t, "E1001", alicePassword, "phone-1").AccessToken)
	f.accounts.afterRead = func() {
		f.accounts.update("u1", func(a *Account) { a.PasswordHash, a.MustChangePassword = "$argon2id$reset", true })
	}
	wantCode(t, f.s.ChangePassword(ctx, p, alicePassword, "a-much-better-one"), apperr.Conflict)
	if acc := f.accounts.get("u1"); acc.PasswordHash != "$argon2id$reset" || !acc.MustChangePassword {
		t.Fatalf("the reset was overwritten: %+v", acc)
	}
}

func TestChangePasswordThrottling(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := mustAuthenticate(t, f.s, f.login(t, "E1001", alicePassword, "phone-1").AccessToken)
	for i := 0; i < 5; i++ {
		wantCode(t, f.s.ChangePassword(ctx, p, "guess-number-x", "a-much-better-one"), apperr.Invalid)
	}
	t.Run("slows down guessing of the current password", func(t *testing.T) {
		err := f.s.ChangePassword(ctx, p, alicePassword, "a-much-better-one")
		if e := wantCode(t, err, apperr.RateLimited); e.RetryAfter != time.Second {
			t.Fatalf("RetryAfter %v", e.RetryAfter)
		}
	})
}
