package directory

import (
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

func TestAdminCannotLockThemselfOut(t *testing.T) {
	f := newFixture(t)
	me, p := f.realAdmin(t)
	t.Run("cannot disable themself", func(t *testing.T) {
		_, err := f.users.Update(f.ctx, p, me.ID, UserUpdate{Status: ptr(StatusDisabled)})
		wantCode(t, err, apperr.Conflict, "status")
	})
	t.Run("cannot drop their own admin role", func(t *testing.T) {
		_, err := f.users.SetRoles(f.ctx, p, me.ID, roles(auth.RoleOps))
		wantCode(t, err, apperr.Conflict, "roles")
	})
	t.Run("stays an active admin", func(t *testing.T) {
		acc, _ := f.users.Account(f.ctx, me.ID)
		if !acc.Active || !sameRoles(acc.Roles, roles(auth.RoleEmployee, auth.RoleAdmin)) {
			t.Fatalf("account %+v", acc)
		}
	})
}

func TestNonAdminIsForbidden(t *testing.T) {
	f := newFixture(t)
	u := f.create(t, CreateUser{EmployeeNo: "E1", Name: "Zhang"})
	calls := map[string]func(*auth.Principal) error{
		"Create": func(p *auth.Principal) error {
			_, _, err := f.users.Create(f.ctx, p, CreateUser{EmployeeNo: "E2", Name: "X"})
			return err
		},
		"Get": func(p *auth.Principal) error { _, err := f.users.Get(f.ctx, p, u.ID); return err },
		"Update": func(p *auth.Principal) error {
			_, err := f.users.Update(f.ctx, p, u.ID, UserUpdate{Name: ptr("X")})
			return err
		},
		"SetRoles": func(p *auth.Principal) error {
			_, err := f.users.SetRoles(f.ctx, p, u.ID, roles(auth.RoleAdmin))
			return err
		},
		"ResetPassword":  func(p *auth.Principal) error { _, err := f.users.ResetPassword(f.ctx, p, u.ID); return err },
		"RevokeSessions": func(p *auth.Principal) error { return f.users.RevokeSessions(f.ctx, p, u.ID) },
		"List":           func(p *auth.Principal) error { _, _, err := f.users.List(f.ctx, p, ListFilter{}); return err },
		"Departments":    func(p *auth.Principal) error { _, err := f.users.Departments(f.ctx, p); return err },
		"Import": func(p *auth.Principal) error {
			_, err := f.users.Import(f.ctx, p, csvOf("employee_no,name", "E3,X"))
			return err
		},
	}
	for name, call := range calls {
		t.Run(name+" is forbidden to ops", func(t *testing.T) {
			wantCode(t, call(f.ops), apperr.Forbidden, "")
		})
		t.Run(name+" needs authentication", func(t *testing.T) {
			wantCode(t, call(nil), apperr.Unauthorized, "")
		})
	}
	t.Run("nothing was changed", func(t *testing.T) {
		got, _ := f.users.Get(f.ctx, f.admin, u.ID)
		if got.Name != "Zhang" || !sameRoles(got.Roles, roles(auth.RoleEmployee)) || f.revoker.count(u.ID) != 0 {
			t.Fatalf("got %+v", got)
		}
		if _, err := f.users.keyOwner(f.ctx, empKey("E2")); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("E2 was created: %v", err)
		}
	})
}
