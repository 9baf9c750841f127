package console

import (
	"net/url"
	"slices"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
)

// UsersData is the users screen: the search and its results, and the create form (echoed back
// with Problem when it has to be corrected).
type UsersData struct {
	Query string
	Users []directory.User
	// Next is the cursor of the next page ("" on the last).
	Next string
	// Roles are the role boxes of the create form (auth.AllRoles).
	Roles   []auth.Role
	New     NewUser
	Problem string
}

// NewUser is the create form's input.
type NewUser struct {
	EmployeeNo, Name, Email, Department string
	Roles                               []auth.Role
}

// Checked reports whether the create form's box for r is ticked: employee always is.
func (d UsersData) Checked(r auth.Role) bool {
	return r == auth.RoleEmployee || slices.Contains(d.New.Roles, r)
}

// ImportData is the outcome of a CSV import: every row, or the Problem that refused the file.
type ImportData struct {
	Result  *directory.ImportResult
	Problem string
	// Limit is the largest file accepted, in bytes.
	Limit int
}

// LimitKiB is Limit in KiB, for the form's hint.
func (d ImportData) LimitKiB() int { return d.Limit / 1024 }

// UserData is one user's screen: profile, roles form, devices.
type UserData struct {
	User    directory.User
	Devices []directory.Device
	Roles   []auth.Role
	Problem string
}

// HasRole reports whether the user has role r.
func (d UserData) HasRole(r auth.Role) bool { return slices.Contains(d.User.Roles, r) }

// PasswordData is a one-time password to hand over, shown once.
type PasswordData struct {
	User            directory.User
	OneTimePassword string
}

// NextURL is the next page of the users with the same search.
func (d UsersData) NextURL() string {
	v := url.Values{"cursor": {d.Next}}
	if d.Query != "" {
		v.Set("q", d.Query)
	}
	return "/console/users?" + v.Encode()
}
