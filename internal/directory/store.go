package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// normalize validates every field of u and fills in defaults. It is the one validation path for
// creation, admin updates, self-service updates and CSV import, so they cannot drift apart.
func normalize(u *User) error {
	if err := validEmployeeNo(u.EmployeeNo); err != nil {
		return err
	}
	if err := validName(u.Name); err != nil {
		return err
	}
	if err := validEmail(u.Email); err != nil {
		return err
	}
	if err := validDepartment(u.Department); err != nil {
		return err
	}
	roles, err := normalizeRoles(u.Roles)
	if err != nil {
		return err
	}
	u.Roles = roles
	if u.Locale, err = normalizeLocale(u.Locale, "locale"); err != nil {
		return err
	}
	if u.Timezone, err = normalizeTimezone(u.Timezone, "timezone"); err != nil {
		return err
	}
	if u.Status == "" {
		u.Status = StatusActive
	}
	return validStatus(u.Status)
}

// diff returns the profile fields that differ between old and updated, as $set entries, and the
// filter entries that pin their old values.
func diff(old, updated *User) (set, pin bson.D) {
	add := func(key string, was, is any, same bool) {
		if !same {
			set = append(set, bson.E{Key: key, Value: is})
			pin = append(pin, bson.E{Key: key, Value: was})
		}
	}
	add("name", old.Name, updated.Name, old.Name == updated.Name)
	add("email", old.Email, updated.Email, old.Email == updated.Email)
	add("department", old.Department, updated.Department, old.Department == updated.Department)
	add("roles", old.Roles, updated.Roles, slices.Equal(old.Roles, updated.Roles))
	add("locale", old.Locale, updated.Locale, old.Locale == updated.Locale)
	add("timezone", old.Timezone, updated.Timezone, old.Timezone == updated.Timezone)
	add("status", old.Status, updated.Status, old.Status == updated.Status)
	return set, pin
}

// insert claims u's unique keys and inserts it; on any failure the claims are released, so a
// failed creation leaves nothing behind.
func (s *Users) insert(ctx context.Context, u *User) error {
	emp := empKey(u.EmployeeNo)
	won, err := s.claimKey(ctx, emp, u.ID)
	if err != nil {
		return err
	}
	if !won {
		return errTaken("employee_no", u.EmployeeNo)
	}
	claimed := []string{emp}
	fail := func(err error) error {
		for _, k := range claimed {
			if rerr := s.releaseKey(ctx, k, u.ID); rerr != nil {
				err = fmt.Errorf("%w (and %v)", err, rerr)
			}
		}
		return err
	}
	if u.Email != "" {
		won, err := s.claimKey(ctx, emailKey(u.Email), u.ID)
		if err != nil {
			return fail(err)
		}
		if !won {
			return fail(errTaken("email", u.Email))
		}
		claimed = append(claimed, emailKey(u.Email))
	}
	if _, err := s.users().InsertOne(ctx, u); err != nil {
		return fail(fmt.Errorf("insert user %s: %w", u.ID, mongodb.Translate(err, "user")))
	}
	s.View.putUser(u)
	return nil
}

// update writes the profile changes from old to updated and reports whether there were any.
// The caller holds s.DB.Lock(lockKey(old.ID)). The filter pins the old values of the changed
// fields, so on MongoDB (where Lock is a no-op) a concurrent change is a conflict, not lost.
func (s *Users) update(ctx context.Context, old, updated *User) (bool, error) {
	set, pin := diff(old, updated)
	if len(set) == 0 {
		return false, nil
	}
	newKey, oldKey := "", ""
	if !strings.EqualFold(old.Email, updated.Email) {
		if old.Email != "" {
			oldKey = emailKey(old.Email)
		}
		if updated.Email != "" {
			newKey = emailKey(updated.Email)
			won, err := s.claimKey(ctx, newKey, old.ID)
			if err != nil {
				return false, err
			}
			if !won {
				return false, errTaken("email", updated.Email)
			}
		}
	}
	updated.UpdatedAt = s.Now.Stored()
	set = append(set, bson.E{Key: "updated_at", Value: updated.UpdatedAt})
	filter := append(bson.D{{Key: "_id", Value: old.ID}}, pin...)
	res, err := s.users().UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: set}})
	if err == nil && res.MatchedCount == 0 {
		err = s.missingOrChanged(ctx, old.ID)
	}
	if err != nil {
		if newKey != "" {
			_ = s.releaseKey(ctx, newKey, old.ID) // best effort: a leftover claim goes stale and is taken over
		}
		return false, fmt.Errorf("update user %s: %w", old.ID, mongodb.Translate(err, "user"))
	}
	if oldKey != "" {
		// The user no longer carries the old key, so if this release fails the claim is stale and
		// claimKey takes it over after staleKeyAge.
		_ = s.releaseKey(ctx, oldKey, old.ID)
	}
	s.View.putUser(updated)
	return true, nil
}

// missingOrChanged explains an update that matched nothing.
func (s *Users) missingOrChanged(ctx context.Context, id string) error {
	if _, err := s.load(ctx, id); err != nil {
		return err
	}
	return apperr.New(apperr.Conflict, "the user was changed concurrently; reload and retry")
}

// lockKey names the user's read-modify-write lock (see mongodb.DB.Lock).
func lockKey(userID string) string { return "directory/user:" + userID }
