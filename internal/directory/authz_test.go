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

// A signed-in admin's changes are authorized on the stored user, not on the roles the session
// carries (up to MPORTAL_SESSION_RECHECK old): before, an admin just demoted or disabled could
// give themself the role back, or disable whoever demoted them, in that window.
func TestADemotedAdminCannotActOnStaleRoles(t *testing.T) {
	f := newFixture(t)
	a, _ := f.realAdmin(t)
	b := f.create(t, CreateUser{EmployeeNo: "ADM2", Name: "Second Admin", Roles: []auth.Role{auth.RoleAdmin}})
	bStale := &auth.Principal{UserID: b.ID, Roles: b.Roles, SessionID: "s-b"} // as B's session still says
	aSession := &auth.Principal{UserID: a.ID, Roles: a.Roles, SessionID: "s-a"}
	if _, err := f.users.SetRoles(f.ctx, aSession, b.ID, roles(auth.RoleEmployee)); err != nil {
		t.Fatal(err)
	}
	t.Run("cannot give themself the role back", func(t *testing.T) {
		_, err := f.users.SetRoles(f.ctx, bStale, b.ID, roles(auth.RoleAdmin))
		wantCode(t, err, apperr.Forbidden, "")
	})
	t.Run("cannot disable who demoted them", func(t *testing.T) {
		_, err := f.users.Update(f.ctx, bStale, a.ID, UserUpdate{Status: ptr(StatusDisabled)})
		wantCode(t, err, apperr.Forbidden, "")
	})
	t.Run("a disabled admin cannot enable themself", func(t *testing.T) {
		c := f.create(t, CreateUser{EmployeeNo: "ADM3", Name: "Third Admin", Roles: []auth.Role{auth.RoleAdmin}})
		if _, err := f.users.Update(f.ctx, aSession, c.ID, UserUpdate{Status: ptr(StatusDisabled)}); err != nil {
			t.Fatal(err)
		}
		cStale := &auth.Principal{UserID: c.ID, Roles: c.Roles, SessionID: "s-c"}
		_, err := f.users.Update(f.ctx, cStale, c.ID, UserUpdate{Status: ptr(StatusActive)})
		wantCode(t, err, apperr.Forbidden, "")
	})
	t.Run("the admin in place still acts", func(t *testing.T) {
		if _, err := f.users.SetRoles(f.ctx, aSession, b.ID, roles(auth.RoleAdmin)); err != nil {
			t.Fatal(err)
		}
	})
}
