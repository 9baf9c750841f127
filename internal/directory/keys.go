package directory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// staleKeyAge is how old a user_keys claim must be before it may be taken over when its holder
// does not carry the key (the process died between claim and write, or a release failed). Live
// claims are held for milliseconds, so a minute never steals one that is in flight.
const staleKeyAge = time.Minute

// userKey is a user_keys document: the claim of one unique value by one user.
type userKey struct {
	ID        string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	CreatedAt time.Time `bson:"created_at"`
}

// Keys are lower-cased: employee numbers and e-mail addresses are unique case-insensitively and
// logins match them case-insensitively.
func empKey(employeeNo string) string { return "emp:" + strings.ToLower(employeeNo) }
func emailKey(email string) string    { return "email:" + strings.ToLower(email) }

// carries reports whether u currently owns key.
func carries(u *User, key string) bool {
	return empKey(u.EmployeeNo) == key || (u.Email != "" && emailKey(u.Email) == key)
}

// claimKey claims key for userID. It reports false when another user holds it. A claim already
// held by userID counts as won, and a stale claim (see staleKeyAge) is taken over once.
func (s *Users) claimKey(ctx context.Context, key, userID string) (bool, error) {
	for attempt := 0; ; attempt++ {
		won, err := mongodb.Claim(ctx, s.keys(), key, bson.D{
			{Key: "user_id", Value: userID}, {Key: "created_at", Value: s.Now.Stored()},
		})
		if err != nil || won {
			return won, err
		}
		var held userKey
		err = s.keys().FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&held)
		switch {
		case mongodb.IsNotFound(err):
			continue // released between our claim and our read: claim again
		case err != nil:
			return false, fmt.Errorf("read key %s: %w", key, mongodb.Translate(err, "user key"))
		case held.UserID == userID:
			return true, nil
		}
		if attempt > 0 || s.Now.Stored().Sub(held.CreatedAt) < staleKeyAge {
			return false, nil
		}
		holder, err := s.load(ctx, held.UserID)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return false, err
		}
		if err == nil && carries(holder, key) {
			return false, nil
		}
		if err := s.releaseKey(ctx, key, held.UserID); err != nil {
			return false, err
		}
	}
}

// releaseKey deletes key if userID still holds it. It runs even when ctx is cancelled: it undoes
// a claim whose write failed, and a leftover claim would block the value for staleKeyAge.
func (s *Users) releaseKey(ctx context.Context, key, userID string) error {
	ctx = context.WithoutCancel(ctx)
	_, err := s.keys().DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "user_id", Value: userID}})
	if err != nil {
		return fmt.Errorf("release key %s: %w", key, mongodb.Translate(err, "user key"))
	}
	return nil
}

// keyOwner returns the id of the user holding key; not_found if nobody does.
func (s *Users) keyOwner(ctx context.Context, key string) (string, error) {
	var held userKey
	if err := s.keys().FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&held); err != nil {
		return "", mongodb.Translate(err, "user")
	}
	return held.UserID, nil
}

// errTaken is the conflict reported when a unique value belongs to someone else.
func errTaken(field, value string) error {
	return &apperr.Error{Code: apperr.Conflict, Field: field,
		Message: fmt.Sprintf("%s %q is already in use", field, value)}
}
