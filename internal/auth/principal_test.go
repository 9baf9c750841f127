package auth

import (
	"testing"

	"github.com/mportal/mportal/internal/apperr"
)

func TestRequireRole(t *testing.T) {
	ops := &Principal{UserID: "u1", Roles: []Role{RoleEmployee, RoleOps}}
	cases := []struct {
		name  string
		p     *Principal
		roles []Role
		want  apperr.Code
	}{
		{"lets a holder of the role through", ops, []Role{RoleOps}, ""},
		{"lets a holder of any listed role through", ops, []Role{RoleAdmin, RoleOps}, ""},
		{"forbids a caller without the role", ops, []Role{RoleAdmin}, apperr.Forbidden},
		{"treats a missing principal as unauthenticated", nil, []Role{RoleEmployee}, apperr.Unauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := RequireRole(tc.p, tc.roles...)
			if tc.want == "" && err != nil || tc.want != "" && !apperr.Is(err, tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRequireOwner(t *testing.T) {
	alice := &Principal{UserID: "alice", Roles: []Role{RoleEmployee}}
	ops := &Principal{UserID: "olga", Roles: []Role{RoleEmployee, RoleOps}}
	t.Run("lets the owner through", func(t *testing.T) {
		if err := RequireOwner(alice, "alice", "feedback"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("hides another user's object as not found", func(t *testing.T) {
		err := RequireOwner(alice, "bob", "feedback")
		if !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("lets an override role through", func(t *testing.T) {
		if err := RequireOwner(ops, "bob", "feedback", RoleOps); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("does not let other roles override", func(t *testing.T) {
		if err := RequireOwner(ops, "bob", "feedback", RoleAdmin); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestValidRole(t *testing.T) {
	for _, r := range AllRoles {
		if !ValidRole(r) {
			t.Errorf("%s not valid", r)
		}
	}
	if ValidRole("root") {
		t.Error("unknown role accepted")
	}
}
