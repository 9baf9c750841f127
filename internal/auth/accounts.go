package auth

import (
	"context"
	"regexp"

	"github.com/mportal/mportal/internal/apperr"
)

// Account is what auth needs to know about a user.
type Account struct {
	ID           string
	PasswordHash string // PHC argon2id hash; empty when no password was ever set
	Department   string
	Roles        []Role
	Active       bool
	// MustChangePassword is set while the user holds a one-time password.
	MustChangePassword bool
}

// Accounts is the user directory as auth sees it; internal/directory.Users implements it.
type Accounts interface {
	// FindByLogin returns the account whose employee number or e-mail equals login, ignoring case.
	// It returns not_found when there is none.
	FindByLogin(ctx context.Context, login string) (*Account, error)
	// Account returns the account with the given id, or not_found.
	Account(ctx context.Context, userID string) (*Account, error)
	// ReplacePassword stores newHash (and clears the must-change flag) if the stored hash is
	// still oldHash, the one a password change verified. It returns not_found for an unknown
	// user and conflict when the hash changed meanwhile (an admin's reset, another change).
	ReplacePassword(ctx context.Context, userID, oldHash, newHash string) error
}

var deviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// ValidateDeviceID checks a client-chosen device id: 1 to 128 characters of A-Z, a-z, 0-9 and
// . _ : -, so it is safe in composite ids, logs and URLs. It returns an invalid error naming the
// device_id field.
func ValidateDeviceID(id string) error {
	if !deviceIDPattern.MatchString(id) {
		return apperr.Field("device_id", "device_id must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'")
	}
	return nil
}
