package directory

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/auth"
)

// TestActiveRosterFromTheView checks that the roster the in-memory view gives (the embedded
// database's path, which reads no document) is the database's: after users written behind the
// view's back before it loaded, and after this process created, moved and disabled users.
func TestActiveRosterFromTheView(t *testing.T) {
	f := newViewFixture(t)
	viewed := &Users{DB: f.db, Argon: cheapArgon, Sessions: &fakeRevoker{}, Now: f.clock.Now, View: f.recipients.View}
	plain := &Users{DB: f.db, Argon: cheapArgon, Sessions: &fakeRevoker{}, Now: f.clock.Now}
	admin := &auth.Principal{UserID: "admin-actor", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}}
	f.user(t, "ann", "Sales", StatusActive, auth.RoleEmployee)
	f.user(t, "cy", "Sales", StatusDisabled, auth.RoleEmployee)
	f.user(t, "di", "HR", StatusActive, auth.RoleEmployee, auth.RoleApprover)
	same := func(t *testing.T, want int) {
		t.Helper()
		fromView, err := viewed.ActiveRoster(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		fromDB, err := plain.ActiveRoster(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(fromDB, fromView); diff != "" {
			t.Fatalf("the view's roster differs from the database's (-db +view):\n%s", diff)
		}
		if len(fromView) != want {
			t.Fatalf("%d active users, want %d: %+v", len(fromView), want, fromView)
		}
	}
	same(t, 2) // loads the view

	bo, _, err := viewed.Create(f.ctx, admin, CreateUser{EmployeeNo: "E2001", Name: "Bo", Department: "HR",
		Roles: []auth.Role{auth.RoleApprover}})
	if err != nil {
		t.Fatal(err)
	}
	same(t, 3)
	ops, disabled := "Ops", StatusDisabled
	if _, err := viewed.Update(f.ctx, admin, bo.ID, UserUpdate{Department: &ops}); err != nil {
		t.Fatal(err)
	}
	if _, err := viewed.Update(f.ctx, admin, "ann", UserUpdate{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	same(t, 2)
}
