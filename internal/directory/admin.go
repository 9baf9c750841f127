package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// CreateUser is the input of Users.Create. Empty optional fields get their defaults.
type CreateUser struct {
	EmployeeNo string      `json:"employee_no"`
	Name       string      `json:"name"`
	Email      string      `json:"email"`
	Department string      `json:"department"`
	Roles      []auth.Role `json:"roles"`
	Locale     string      `json:"locale"`
	Timezone   string      `json:"timezone"`
}

// UserUpdate is an admin's partial update of a user: nil fields are left alone.
type UserUpdate struct {
	Name       *string `json:"name"`
	Email      *string `json:"email"`
	Department *string `json:"department"`
	Locale     *string `json:"locale"`
	Timezone   *string `json:"timezone"`
	Status     *string `json:"status"`
}

// newUser returns an active user with a fresh id and trimmed fields; it is not yet validated.
func (s *Users) newUser(employeeNo, name, email, department string) *User {
	now := s.Now.Stored()
	return &User{
		ID:                 bson.NewObjectID().Hex(),
		EmployeeNo:         strings.TrimSpace(employeeNo),
		Name:               strings.TrimSpace(name),
		Email:              strings.TrimSpace(email),
		Department:         strings.TrimSpace(department),
		Status:             StatusActive,
		MustChangePassword: true,
		CreatedAt:          now,
		UpdatedAt:          now,
	}
}

// oneTimePassword generates a password for an admin to hand over, and its hash.
func (s *Users) oneTimePassword() (password, hash string, err error) {
	if password, err = auth.GeneratePassword(); err != nil {
		return "", "", fmt.Errorf("generate password: %w", err)
	}
	if hash, err = auth.HashPassword(password, s.argon()); err != nil {
		return "", "", err
	}
	return password, hash, nil
}

// Create adds a user with a one-time password that must be changed at the first login. It
// returns forbidden unless actor is an admin, invalid for a bad field, and conflict (with Field
// employee_no or email) when either is already in use, compared case-insensitively.
func (s *Users) Create(ctx context.Context, actor *auth.Principal, in CreateUser) (*User, string, error) {
	if err := s.requireAdmin(ctx, actor); err != nil {
		return nil, "", err
	}
	u := s.newUser(in.EmployeeNo, in.Name, in.Email, in.Department)
	u.Roles, u.Locale, u.Timezone = in.Roles, strings.TrimSpace(in.Locale), strings.TrimSpace(in.Timezone)
	if err := normalize(u); err != nil {
		return nil, "", err
	}
	password, hash, err := s.oneTimePassword()
	if err != nil {
		return nil, "", err
	}
	u.PasswordHash = hash
	if err := s.insert(ctx, u); err != nil {
		return nil, "", err
	}
	return u, password, nil
}

// Get returns a user for an admin: forbidden for non-admins, not_found for an unknown id.
func (s *Users) Get(ctx context.Context, actor *auth.Principal, id string) (*User, error) {
	if err := auth.RequireRole(actor, auth.RoleAdmin); err != nil {
		return nil, err
	}
	return s.load(ctx, id)
}

// Update changes a user's profile and status. Disabling a user revokes all their sessions at
// once; setting the department moves the user's devices off release channels that no longer
// include them (Devices). It returns forbidden, not_found, invalid, conflict (email in use, a
// concurrent change, or an admin disabling themself, which would lock them out).
func (s *Users) Update(ctx context.Context, actor *auth.Principal, id string, in UserUpdate) (*User, error) {
	if err := s.requireAdmin(ctx, actor); err != nil {
		return nil, err
	}
	unlock := s.DB.Lock(lockKey(id))
	defer unlock()
	old, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	u := *old
	for _, f := range []struct{ dst, src *string }{
		{&u.Name, in.Name}, {&u.Email, in.Email}, {&u.Department, in.Department},
		{&u.Locale, in.Locale}, {&u.Timezone, in.Timezone}, {&u.Status, in.Status},
	} {
		if f.src != nil {
			*f.dst = strings.TrimSpace(*f.src)
		}
	}
	if u.Status == "" { // normalize would read an empty status as the default, active
		return nil, validStatus("")
	}
	if err := normalize(&u); err != nil {
		return nil, err
	}
	if actor.UserID == id && u.Status == StatusDisabled {
		return nil, &apperr.Error{Code: apperr.Conflict, Field: "status", Message: "you cannot disable your own account"}
	}
	if _, err := s.update(ctx, old, &u); err != nil {
		return nil, err
	}
	if u.Status == StatusDisabled && in.Status != nil {
		if err := s.revoke(ctx, id); err != nil {
			return nil, err
		}
	}
	if in.Department != nil {
		s.followChannels(ctx, id)
	}
	return &u, nil
}

// SetRoles replaces a user's roles; employee is always kept. The user's devices leave release
// channels that no longer include them (Devices). It returns forbidden, not_found, invalid
// (unknown role), and conflict when an admin would remove their own admin role.
func (s *Users) SetRoles(ctx context.Context, actor *auth.Principal, id string, roles []auth.Role) (*User, error) {
	if err := s.requireAdmin(ctx, actor); err != nil {
		return nil, err
	}
	normalized, err := normalizeRoles(roles)
	if err != nil {
		return nil, err
	}
	if actor.UserID == id && !slices.Contains(normalized, auth.RoleAdmin) {
		return nil, &apperr.Error{Code: apperr.Conflict, Field: "roles", Message: "you cannot remove your own admin role"}
	}
	unlock := s.DB.Lock(lockKey(id))
	defer unlock()
	old, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	u := *old
	u.Roles = normalized
	if _, err := s.update(ctx, old, &u); err != nil {
		return nil, err
	}
	s.followChannels(ctx, id)
	return &u, nil
}

// ResetPassword gives a user a new one-time password, to be changed at the next login, and
// revokes their sessions. It returns forbidden or not_found.
func (s *Users) ResetPassword(ctx context.Context, actor *auth.Principal, id string) (string, error) {
	if err := s.requireAdmin(ctx, actor); err != nil {
		return "", err
	}
	password, hash, err := s.oneTimePassword()
	if err != nil {
		return "", err
	}
	if err := s.SetPassword(ctx, id, hash, true); err != nil {
		return "", err
	}
	if err := s.revoke(ctx, id); err != nil {
		return "", err
	}
	return password, nil
}

// RevokeSessions ends all sessions of a user. It returns forbidden or not_found.
func (s *Users) RevokeSessions(ctx context.Context, actor *auth.Principal, id string) error {
	if err := s.requireAdmin(ctx, actor); err != nil {
		return err
	}
	if _, err := s.load(ctx, id); err != nil {
		return err
	}
	return s.revoke(ctx, id)
}

// requireAdmin authorizes a change to the directory: the caller must be an admin, and, when
// signed in, still an active admin as stored now. The roles a session carries may be up to
// MPORTAL_SESSION_RECHECK old (and a disable clears the cache of one replica only): an admin
// just demoted or disabled could otherwise give themself the role back, or disable whoever
// demoted them, in that window. The command-line tool acts without a session.
func (s *Users) requireAdmin(ctx context.Context, actor *auth.Principal) error {
	if err := auth.RequireRole(actor, auth.RoleAdmin); err != nil || actor.SessionID == "" {
		return err
	}
	u, err := s.load(ctx, actor.UserID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return apperr.New(apperr.Forbidden, "your account no longer exists")
	case err != nil:
		return err
	case u.Status != StatusActive || !slices.Contains(u.Roles, auth.RoleAdmin):
		return apperr.New(apperr.Forbidden, "you are no longer an active admin")
	}
	return nil
}
