package auth

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
)

// ValidateNewPassword checks the length rules for a password a user sets: at least MinPasswordLen
// characters and at most MaxPasswordLen bytes (which bounds hashing work). It returns invalid
// naming field.
func ValidateNewPassword(field, password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return apperr.Field(field, "the password must be %d to %d characters long", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// ChangePassword replaces the caller's password after checking the current one, clears the
// must-change flag and ends the user's other sessions (whoever knew the old password is signed
// out). The current session stays, but its access token still says a change is required until the
// client refreshes, which it should do right after this call.
//
// It returns invalid (field current_password or new_password) for a wrong current password or an
// unacceptable new one, rate_limited after repeated wrong current passwords (a stolen access token
// must not become a password-guessing oracle), unavailable when too many password checks are
// running and waiting, and unauthorized for a disabled or deleted user.
func (s *Sessions) ChangePassword(ctx context.Context, p *Principal, current, newPassword string) error {
	if err := requirePrincipal(p); err != nil {
		return err
	}
	if current == "" {
		return apperr.Field("current_password", "current_password is required")
	}
	if err := ValidateNewPassword("new_password", newPassword); err != nil {
		return err
	}
	if newPassword == current {
		return apperr.Field("new_password", "the new password must differ from the current one")
	}
	attempt, wait, ok := s.Throttle.BeginUser("password-change", p.UserID)
	if !ok {
		return rateLimited(wait)
	}
	defer attempt.End()
	acc, err := s.Accounts.Account(ctx, p.UserID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return apperr.Wrap(err, apperr.Unauthorized, "authentication required")
	case err != nil:
		return fmt.Errorf("change password: %w", err)
	case !acc.Active:
		return apperr.Wrap(errDisabled, apperr.Unauthorized, "authentication required")
	}
	release, err := s.gate().enter(ctx)
	if err != nil {
		return err
	}
	hash, cause, err := s.rehash(acc, current, newPassword)
	release()
	if cause != nil {
		attempt.Fail()
		return &apperr.Error{Code: apperr.Invalid, Field: "current_password", Message: "the current password is incorrect", Err: cause}
	}
	attempt.Succeed()
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	// Only over the hash just verified: a reset (or another change) between the read and this
	// write wins, instead of being overwritten by a password its author no longer expects.
	if err := s.Accounts.ReplacePassword(ctx, p.UserID, acc.PasswordHash, hash); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return apperr.Wrap(err, apperr.Conflict, "the password was changed or reset meanwhile; sign in again")
		}
		return fmt.Errorf("change password: %w", err)
	}
	others, err := s.liveSessions(ctx, p.UserID, p.SessionID)
	if err != nil {
		return fmt.Errorf("change password: sessions: %w", err)
	}
	if err := s.end(ctx, p.UserID, others); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

// rehash checks current against acc and hashes newPassword, the two argon2 computations of a
// password change, which run under one gate slot. cause says why current is wrong.
func (s *Sessions) rehash(acc *Account, current, newPassword string) (hash string, cause, err error) {
	if cause := s.checkPassword(acc, current); cause != nil {
		return "", cause, nil
	}
	hash, err = HashPassword(newPassword, s.argon())
	return hash, nil, err
}
