package directory

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// seedClaimID is the user_keys document that records that the first admin was seeded. Its
// claim makes seeding happen once even when several instances start together.
const seedClaimID = "directory_seed"

// SeedAdminName is the display name of the seeded admin; they can be renamed like anyone else.
const SeedAdminName = "Administrator"

// SeedAdmin creates the first admin (roles admin and employee) with a one-time password that must
// be changed at the first login, when no admin exists and no admin was ever seeded. It returns
// created=false when there is nothing to do, so it is safe at every start. It returns invalid
// for a bad employee number and conflict if that number belongs to a user who is not an admin.
//
// If the process dies between the claim and the insert, no admin exists and later starts do
// not seed: delete the user_keys document "directory_seed" to seed again.
func (s *Users) SeedAdmin(ctx context.Context, employeeNo string) (password string, created bool, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("seed admin: %w", err)
		}
	}()
	u := s.newUser(employeeNo, SeedAdminName, "", "")
	u.Roles = []auth.Role{auth.RoleAdmin, auth.RoleEmployee}
	if err := normalize(u); err != nil {
		return "", false, err
	}
	err = s.users().FindOne(ctx, bson.D{{Key: "roles", Value: auth.RoleAdmin}}).Err()
	switch {
	case err == nil:
		return "", false, nil // an admin exists
	case !mongodb.IsNotFound(err):
		return "", false, mongodb.Translate(err, "user")
	}
	won, err := mongodb.Claim(ctx, s.keys(), seedClaimID, bson.D{
		{Key: "user_id", Value: u.ID}, {Key: "created_at", Value: s.Now.Stored()},
	})
	if err != nil || !won {
		return "", false, err
	}
	password, hash, err := s.oneTimePassword()
	if err == nil {
		u.PasswordHash = hash
		err = s.insert(ctx, u)
	}
	if err != nil {
		// Undo the claim so that the next start (perhaps with another employee number) seeds.
		if rerr := s.releaseKey(ctx, seedClaimID, u.ID); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return "", false, err
	}
	return password, true, nil
}
