package directory

import (
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

func TestFindByLogin(t *testing.T) {
	f := newFixture(t)
	u := f.create(t, CreateUser{EmployeeNo: "E1001", Name: "Zhang", Email: "Zhang.San@Example.com", Department: "R&D"})
	for _, login := range []string{"E1001", "e1001", " E1001 ", "zhang.san@example.com", "ZHANG.SAN@EXAMPLE.COM"} {
		t.Run("finds the user by "+login, func(t *testing.T) {
			acc, err := f.users.FindByLogin(f.ctx, login)
			if err != nil || acc.ID != u.ID || acc.Department != "R&D" || !acc.Active || !acc.MustChangePassword ||
				acc.PasswordHash == "" || !sameRoles(acc.Roles, roles(auth.RoleEmployee)) {
				t.Fatalf("got %+v, %v", acc, err)
			}
		})
	}
	for _, login := range []string{"", "E1002", "nobody@example.com", "Zhang"} {
		t.Run("reports "+login+" as not found", func(t *testing.T) {
			_, err := f.users.FindByLogin(f.ctx, login)
			wantCode(t, err, apperr.NotFound, "")
		})
	}
	t.Run("follows an email change", func(t *testing.T) {
		if _, err := f.users.Update(f.ctx, f.admin, u.ID, UserUpdate{Email: ptr("zs@example.com")}); err != nil {
			t.Fatal(err)
		}
		_, err := f.users.FindByLogin(f.ctx, "zhang.san@example.com")
		wantCode(t, err, apperr.NotFound, "")
		if acc, err := f.users.FindByLogin(f.ctx, "ZS@example.com"); err != nil || acc.ID != u.ID {
			t.Fatalf("got %+v, %v", acc, err)
		}
	})
	t.Run("ignores a leftover claim of a user who no longer carries the key", func(t *testing.T) {
		if won, err := f.users.claimKey(f.ctx, emailKey("old@example.com"), u.ID); err != nil || !won {
			t.Fatalf("claim: %v %v", won, err)
		}
		_, err := f.users.FindByLogin(f.ctx, "old@example.com")
		wantCode(t, err, apperr.NotFound, "")
	})
}

func TestSetPassword(t *testing.T) {
	f := newFixture(t)
	u := f.create(t, CreateUser{EmployeeNo: "E1", Name: "Zhang"})
	t.Run("stores the hash and clears the must-change flag", func(t *testing.T) {
		if err := f.users.SetPassword(f.ctx, u.ID, "$argon2id$new", false); err != nil {
			t.Fatal(err)
		}
		acc, err := f.users.Account(f.ctx, u.ID)
		if err != nil || acc.PasswordHash != "$argon2id$new" || acc.MustChangePassword {
			t.Fatalf("got %+v, %v", acc, err)
		}
	})
	t.Run("replaces only the hash that was verified", func(t *testing.T) {
		// A user's own change must not overwrite a reset made while it checked the password.
		if err := f.users.SetPassword(f.ctx, u.ID, "$argon2id$reset", true); err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.users.ReplacePassword(f.ctx, u.ID, "$argon2id$new", "$argon2id$mine"), apperr.Conflict, "")
		if acc, _ := f.users.Account(f.ctx, u.ID); acc.PasswordHash != "$argon2id$reset" || !acc.MustChangePassword {
			t.Fatalf("the reset was overwritten: %+v", acc)
		}
		if err := f.users.ReplacePassword(f.ctx, u.ID, "$argon2id$reset", "$argon2id$mine"); err != nil {
			t.Fatal(err)
		}
		if acc, _ := f.users.Account(f.ctx, u.ID); acc.PasswordHash != "$argon2id$mine" || acc.MustChangePassword {
			t.Fatalf("after the change: %+v", acc)
		}
		wantCode(t, f.users.ReplacePassword(f.ctx, "missing", "h", "h2"), apperr.NotFound, "")
	})
	t.Run("reports an unknown user as not found", func(t *testing.T) {
		wantCode(t, f.users.SetPassword(f.ctx, "missing", "h", false), apperr.NotFound, "")
		_, err := f.users.Account(f.ctx, "missing")
		wantCode(t, err, apperr.NotFound, "")
	})
}
