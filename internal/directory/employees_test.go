package directory

import "testing"

func TestActiveUsersByEmployeeNo(t *testing.T) {
	f := newFixture(t)
	active := f.create(t, CreateUser{EmployeeNo: "E1", Name: "Active"})
	disabled := f.create(t, CreateUser{EmployeeNo: "E2", Name: "Disabled"})
	if _, err := f.users.Update(f.ctx, f.admin, disabled.ID, UserUpdate{Status: ptr(StatusDisabled)}); err != nil {
		t.Fatal(err)
	}
	got, err := f.users.ActiveUsersByEmployeeNo(f.ctx, []string{"e1", "E2", "E404", "e1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["e1"] != active.ID {
		t.Fatalf("got %v, want only e1 -> %s", got, active.ID)
	}
}
