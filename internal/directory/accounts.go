package directory

import (
	"context"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// Users is the account store behind login and password changes.
var _ auth.Accounts = (*Users)(nil)

func account(u *User) *auth.Account {
	return &auth.Account{
		ID:                 u.ID,
		PasswordHash:       u.PasswordHash,
		Department:         u.Department,
		Roles:              u.Roles,
		Active:             u.Status == StatusActive,
		MustChangePassword: u.MustChangePassword,
	}
}

// FindByLogin returns the account whose employee number or e-mail address is login, compared
// case-insensitively; not_found if there is none. It is two _id lookups: the user_keys entry and
// the user. A user created by CSV import has no password hash, so no password matches it until an
// admin resets it.
func (s *Users) FindByLogin(ctx context.Context, login string) (*auth.Account, error) {
	login = strings.TrimSpace(login)
	if login == "" {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	key := empKey(login)
	if strings.Contains(login, "@") { // '@' never occurs in an employee number
		key = emailKey(login)
	}
	id, err := s.keyOwner(ctx, key)
	if err != nil {
		return nil, err
	}
	u, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	// A claim left over from a failed write or an e-mail change must not log anyone in.
	if !carries(u, key) {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	return account(u), nil
}

// Account returns the account of userID; not_found if there is none.
func (s *Users) Account(ctx context.Context, userID string) (*auth.Account, error) {
	u, err := s.load(ctx, userID)
	if err != nil {
		return nil, err
	}
	return account(u), nil
}

// SetPassword stores a new password hash and whether it must be changed at the next login;
// not_found if the user does not exist.
func (s *Users) SetPassword(ctx context.Context, userID, hash string, mustChange bool) error {
	return s.setPassword(ctx, userID, nil, hash, mustChange)
}

// ReplacePassword stores newHash, clearing the must-change flag, if the stored hash is still
// oldHash: a user's own change, which must not overwrite a reset made while it ran. It returns
// not_found for an unknown user and conflict when the hash changed.
func (s *Users) ReplacePassword(ctx context.Context, userID, oldHash, newHash string) error {
	return s.setPassword(ctx, userID, &oldHash, newHash, false)
}

// setPassword writes hash and mustChange, over oldHash only when it is not nil. The user's lock
// makes the compare and the write one step on the embedded database, whose updates are not
// atomic; on MongoDB the filter does.
func (s *Users) setPassword(ctx context.Context, userID string, oldHash *string, hash string, mustChange bool) error {
	unlock := s.DB.Lock(lockKey(userID))
	defer unlock()
	filter := bson.D{{Key: "_id", Value: userID}}
	if oldHash != nil {
		filter = append(filter, bson.E{Key: "password_hash", Value: *oldHash})
	}
	res, err := s.users().UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
		{Key: "password_hash", Value: hash},
		{Key: "must_change_password", Value: mustChange},
		{Key: "updated_at", Value: s.Now.Stored()},
	}}})
	if err != nil {
		return fmt.Errorf("set password of %s: %w", userID, mongodb.Translate(err, "user"))
	}
	if res.MatchedCount == 0 {
		if oldHash != nil {
			if _, err := s.load(ctx, userID); err == nil {
				return apperr.New(apperr.Conflict, "the password changed meanwhile")
			}
		}
		return apperr.New(apperr.NotFound, "user not found")
	}
	return nil
}
