package auth

import (
	"slices"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

// Role is one of the fixed roles. Least privilege: employee is everyone; admin manages the
// directory; ops manages content; approver and beta_tester unlock their features only.
type Role string

// The roles.
const (
	RoleEmployee   Role = "employee"
	RoleBetaTester Role = "beta_tester"
	RoleApprover   Role = "approver"
	RoleOps        Role = "ops"
	RoleAdmin      Role = "admin"
)

// AllRoles lists every valid role.
var AllRoles = []Role{RoleEmployee, RoleBetaTester, RoleApprover, RoleOps, RoleAdmin}

// ValidRole reports whether r is one of AllRoles.
func ValidRole(r Role) bool { return slices.Contains(AllRoles, r) }

// Principal is the authenticated caller of a request, taken from a verified access token whose
// session is still active. Handlers pass it to services, which authorize every object with it.
type Principal struct {
	UserID     string
	Roles      []Role
	Department string
	SessionID  string
	DeviceID   string
	// PasswordChangeRequired is set while the user still has a one-time password: only the
	// password change, the profile and logout are allowed until it is changed.
	PasswordChangeRequired bool
	// ExpiresAt is when the access token it came from expires (the console renews its session
	// shortly before).
	ExpiresAt time.Time
}

// HasRole reports whether p has role r.
func (p *Principal) HasRole(r Role) bool { return p != nil && slices.Contains(p.Roles, r) }

// HasAnyRole reports whether p has at least one of roles.
func (p *Principal) HasAnyRole(roles ...Role) bool {
	for _, r := range roles {
		if p.HasRole(r) {
			return true
		}
	}
	return false
}

// RequireRole returns a forbidden error unless p has at least one of roles.
func RequireRole(p *Principal, roles ...Role) error {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "authentication required")
	}
	if !p.HasAnyRole(roles...) {
		return apperr.New(apperr.Forbidden, "this action needs one of the roles %v", roles)
	}
	return nil
}

// RequireOwner authorizes access to an object owned by ownerID: the owner may, and so may holders
// of any of the override roles (for example ops reading feedback). Anyone else gets not_found, not
// forbidden, so that probing ids does not reveal which objects exist (BOLA).
func RequireOwner(p *Principal, ownerID string, what string, override ...Role) error {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "authentication required")
	}
	if p.UserID == ownerID || p.HasAnyRole(override...) {
		return nil
	}
	return apperr.New(apperr.NotFound, "%s not found", what)
}
