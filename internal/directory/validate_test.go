package directory

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

func TestCreateValidation(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name   string
		mutate func(*CreateUser)
		field  string // "" when the input is valid
	}{
		{"accepts a minimal user", func(*CreateUser) {}, ""},
		{"rejects an empty employee number", func(c *CreateUser) { c.EmployeeNo = "" }, "employee_no"},
		{"rejects an employee number of 33 characters", func(c *CreateUser) { c.EmployeeNo = strings.Repeat("e", 33) }, "employee_no"},
		{"accepts an employee number of 32 characters", func(c *CreateUser) { c.EmployeeNo = strings.Repeat("f", 32) }, ""},
		{"accepts letters, digits, underscore, dot and dash", func(c *CreateUser) { c.EmployeeNo = "Ab_1.2-3" }, ""},
		{"rejects a space inside an employee number", func(c *CreateUser) { c.EmployeeNo = "E 1" }, "employee_no"},
		{"rejects an at sign in an employee number", func(c *CreateUser) { c.EmployeeNo = "e@1" }, "employee_no"},
		{"rejects non-ASCII in an employee number", func(c *CreateUser) { c.EmployeeNo = "员工1" }, "employee_no"},
		{"rejects an empty name", func(c *CreateUser) { c.Name = "" }, "name"},
		{"rejects a name of only spaces", func(c *CreateUser) { c.Name = "   " }, "name"},
		{"rejects a name of 101 characters", func(c *CreateUser) { c.Name = strings.Repeat("名", 101) }, "name"},
		{"accepts a name of 100 characters", func(c *CreateUser) { c.Name = strings.Repeat("名", 100) }, ""},
		{"rejects a control character in a name", func(c *CreateUser) { c.Name = "a\nb" }, "name"},
		{"rejects a malformed email", func(c *CreateUser) { c.Email = "not-an-email" }, "email"},
		{"rejects an email with a display name", func(c *CreateUser) { c.Email = "Zhang <zhang@example.com>" }, "email"},
		{"rejects an email in angle brackets", func(c *CreateUser) { c.Email = "<zhang@example.com>" }, "email"},
		{"rejects an email over 254 characters", func(c *CreateUser) { c.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com" }, "email"},
		{"accepts a plain email", func(c *CreateUser) { c.Email = "Zhang.San@example.com" }, ""},
		{"rejects a department of 101 characters", func(c *CreateUser) { c.Department = strings.Repeat("部", 101) }, "department"},
		{"accepts a department of 100 characters", func(c *CreateUser) { c.Department = strings.Repeat("部", 100) }, ""},
		{"rejects an unknown role", func(c *CreateUser) { c.Roles = roles("superuser") }, "roles"},
		{"rejects an unknown locale", func(c *CreateUser) { c.Locale = "fr" }, "locale"},
		{"rejects a locale in the wrong case", func(c *CreateUser) { c.Locale = "zh-cn" }, "locale"},
		{"accepts English", func(c *CreateUser) { c.Locale = "en" }, ""},
		{"rejects an unknown time zone", func(c *CreateUser) { c.Timezone = "Mars/Olympus" }, "timezone"},
		{"rejects the server-local time zone", func(c *CreateUser) { c.Timezone = "Local" }, "timezone"},
		{"rejects a path as time zone", func(c *CreateUser) { c.Timezone = "../etc/passwd" }, "timezone"},
		{"accepts an IANA time zone", func(c *CreateUser) { c.Timezone = "America/New_York" }, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := CreateUser{EmployeeNo: fmt.Sprintf("V%03d", i), Name: "Valid Name"}
			tc.mutate(&in)
			u, _, err := f.users.Create(f.ctx, f.admin, in)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if u.EmployeeNo != strings.TrimSpace(in.EmployeeNo) {
					t.Fatalf("employee_no %q", u.EmployeeNo)
				}
				return
			}
			wantCode(t, err, apperr.Invalid, tc.field)
		})
	}
}

func TestCreateNormalizes(t *testing.T) {
	f := newFixture(t)
	t.Run("fills in the defaults", func(t *testing.T) {
		u := f.create(t, CreateUser{EmployeeNo: " E1 ", Name: " Zhang San "})
		if u.EmployeeNo != "E1" || u.Name != "Zhang San" || u.Locale != DefaultLocale || u.Timezone != DefaultTimezone ||
			u.Status != StatusActive || !u.MustChangePassword || !sameRoles(u.Roles, roles(auth.RoleEmployee)) {
			t.Fatalf("got %+v", u)
		}
	})
	t.Run("deduplicates roles and always includes employee", func(t *testing.T) {
		u := f.create(t, CreateUser{EmployeeNo: "E2", Name: "Li", Roles: roles(auth.RoleAdmin, auth.RoleOps, auth.RoleAdmin)})
		if !sameRoles(u.Roles, roles(auth.RoleEmployee, auth.RoleOps, auth.RoleAdmin)) {
			t.Fatalf("roles %v", u.Roles)
		}
	})
}

func TestUpdateValidation(t *testing.T) {
	f := newFixture(t)
	u := f.create(t, CreateUser{EmployeeNo: "E1", Name: "Zhang"})
	cases := []struct {
		name  string
		in    UserUpdate
		field string
	}{
		{"rejects an empty name", UserUpdate{Name: ptr("")}, "name"},
		{"rejects a malformed email", UserUpdate{Email: ptr("nope")}, "email"},
		{"rejects a long department", UserUpdate{Department: ptr(strings.Repeat("x", 101))}, "department"},
		{"rejects an unknown locale", UserUpdate{Locale: ptr("de")}, "locale"},
		{"rejects an unknown time zone", UserUpdate{Timezone: ptr("Nowhere/City")}, "timezone"},
		{"rejects an unknown status", UserUpdate{Status: ptr("enabled")}, "status"},
		{"rejects an empty status", UserUpdate{Status: ptr("")}, "status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.users.Update(f.ctx, f.admin, u.ID, tc.in)
			wantCode(t, err, apperr.Invalid, tc.field)
		})
	}
	t.Run("changes nothing after a rejected update", func(t *testing.T) {
		got, err := f.users.Get(f.ctx, f.admin, u.ID)
		if err != nil || got.Name != "Zhang" || got.Locale != DefaultLocale || !got.UpdatedAt.Equal(u.UpdatedAt) {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
}
