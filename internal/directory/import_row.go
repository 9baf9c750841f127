package directory

import (
	"context"
	"slices"
	"strings"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// importRow creates or updates the user of one CSV row and returns RowCreated, RowUpdated or
// RowUnchanged, and the id of the existing user it wrote (or left unchanged), "" for one it
// created or did not write.
func (s *Users) importRow(ctx context.Context, actor *auth.Principal, cells map[string]string) (string, string, error) {
	employeeNo := cells["employee_no"]
	if err := validEmployeeNo(employeeNo); err != nil {
		return "", "", err
	}
	id, err := s.keyOwner(ctx, empKey(employeeNo))
	if apperr.Is(err, apperr.NotFound) {
		status, err := s.importNew(ctx, employeeNo, cells)
		return status, "", err
	}
	if err != nil {
		return "", "", err
	}
	unlock := s.DB.Lock(lockKey(id))
	defer unlock()
	old, err := s.load(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		// A claim without a user (a failed or in-flight creation): creating claims the key
		// again, which succeeds once the claim is stale and is a conflict until then.
		status, err := s.importNew(ctx, employeeNo, cells)
		return status, "", err
	}
	if err != nil {
		return "", "", err
	}
	u := *old
	if err := applyCells(&u, cells); err != nil {
		return "", "", err
	}
	if actor != nil && actor.UserID == u.ID {
		if u.Status == StatusDisabled {
			return "", "", &apperr.Error{Code: apperr.Conflict, Field: "status", Message: "you cannot disable your own account"}
		}
		if !slices.Contains(u.Roles, auth.RoleAdmin) {
			return "", "", &apperr.Error{Code: apperr.Conflict, Field: "roles", Message: "you cannot remove your own admin role"}
		}
	}
	changed, err := s.update(ctx, old, &u)
	if err != nil {
		return "", "", err
	}
	if !changed {
		return RowUnchanged, u.ID, nil
	}
	if u.Status == StatusDisabled && old.Status != StatusDisabled {
		if err := s.revoke(ctx, u.ID); err != nil {
			return "", u.ID, err // the row is written
		}
	}
	return RowUpdated, u.ID, nil
}

// importNew creates a user without a password: they cannot log in until an admin resets it.
func (s *Users) importNew(ctx context.Context, employeeNo string, cells map[string]string) (string, error) {
	u := s.newUser(employeeNo, "", "", "")
	if err := applyCells(u, cells); err != nil {
		return "", err
	}
	if err := s.insert(ctx, u); err != nil {
		return "", err
	}
	return RowCreated, nil
}

// applyCells sets the fields whose columns the file has (an empty cell meaning the default) and
// validates the result.
func applyCells(u *User, cells map[string]string) error {
	for col, dst := range map[string]*string{
		"name": &u.Name, "email": &u.Email, "department": &u.Department,
		"locale": &u.Locale, "timezone": &u.Timezone, "status": &u.Status,
	} {
		if v, ok := cells[col]; ok {
			*dst = v
		}
	}
	if v, ok := cells["roles"]; ok {
		u.Roles = nil
		for _, r := range strings.Split(v, ";") {
			if r = strings.TrimSpace(r); r != "" {
				u.Roles = append(u.Roles, auth.Role(r))
			}
		}
	}
	return normalize(u)
}
