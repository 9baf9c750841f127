package directory

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

func TestEmployeeNoUniqueness(t *testing.T) {
	f := newFixture(t)
	t.Run("exactly one of 16 concurrent creations of one employee number succeeds", func(t *testing.T) {
		const n = 16
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for g := 0; g < n; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				_, _, errs[g] = f.users.Create(f.ctx, f.admin, CreateUser{EmployeeNo: "RACE1", Name: fmt.Sprintf("Racer %d", g)})
			}(g)
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			wantCode(t, err, apperr.Conflict, "employee_no")
		}
		if ok != 1 {
			t.Fatalf("%d creations succeeded, want 1", ok)
		}
		if n, err := f.users.users().CountDocuments(f.ctx, bson.D{{Key: "employee_no", Value: "RACE1"}}); err != nil || n != 1 {
			t.Fatalf("%d users stored (err %v), want 1", n, err)
		}
	})
	t.Run("compares employee numbers case-insensitively", func(t *testing.T) {
		f.create(t, CreateUser{EmployeeNo: "Case1", Name: "A"})
		_, _, err := f.users.Create(f.ctx, f.admin, CreateUser{EmployeeNo: "CASE1", Name: "B"})
		wantCode(t, err, apperr.Conflict, "employee_no")
	})
	t.Run("takes over a stale claim whose user was never written", func(t *testing.T) {
		if won, err := f.users.claimKey(f.ctx, empKey("GHOST1"), "no-such-user"); err != nil || !won {
			t.Fatalf("claim: %v %v", won, err)
		}
		_, _, err := f.users.Create(f.ctx, f.admin, CreateUser{EmployeeNo: "GHOST1", Name: "Ghost"})
		wantCode(t, err, apperr.Conflict, "employee_no") // the claim might still be in flight
		f.clock.Advance(2 * staleKeyAge)
		f.create(t, CreateUser{EmployeeNo: "GHOST1", Name: "Ghost"})
	})
}

func TestEmailUniqueness(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, CreateUser{EmployeeNo: "A1", Name: "A", Email: "zhang@example.com"})
	t.Run("rejects a taken email in another case and creates nothing", func(t *testing.T) {
		_, _, err := f.users.Create(f.ctx, f.admin, CreateUser{EmployeeNo: "B1", Name: "B", Email: "ZHANG@example.com"})
		wantCode(t, err, apperr.Conflict, "email")
		// The employee number claim was rolled back, so B1 is free again.
		f.create(t, CreateUser{EmployeeNo: "B1", Name: "B", Email: "li@example.com"})
	})
	t.Run("rejects changing to a taken email", func(t *testing.T) {
		c := f.create(t, CreateUser{EmployeeNo: "C1", Name: "C"})
		_, err := f.users.Update(f.ctx, f.admin, c.ID, UserUpdate{Email: ptr("Zhang@Example.com")})
		wantCode(t, err, apperr.Conflict, "email")
	})
	t.Run("frees the old email on a change", func(t *testing.T) {
		if _, err := f.users.Update(f.ctx, f.admin, a.ID, UserUpdate{Email: ptr("zhang.san@example.com")}); err != nil {
			t.Fatal(err)
		}
		f.create(t, CreateUser{EmployeeNo: "D1", Name: "D", Email: "zhang@example.com"})
	})
	t.Run("allows changing only the case of one's own email", func(t *testing.T) {
		u, err := f.users.Update(f.ctx, f.admin, a.ID, UserUpdate{Email: ptr("Zhang.San@example.com")})
		if err != nil || u.Email != "Zhang.San@example.com" {
			t.Fatalf("got %+v, %v", u, err)
		}
	})
}

func TestAdminOperations(t *testing.T) {
	f := newFixture(t)
	u := f.create(t, CreateUser{EmployeeNo: "E1", Name: "Zhang", Department: "R&D"})
	t.Run("updates the given fields and keeps the others", func(t *testing.T) {
		f.clock.Advance(time.Minute)
		got, err := f.users.Update(f.ctx, f.admin, u.ID, UserUpdate{Department: ptr("Sales"), Locale: ptr("en")})
		if err != nil || got.Department != "Sales" || got.Locale != "en" || got.Name != "Zhang" || !got.UpdatedAt.After(u.UpdatedAt) {
			t.Fatalf("got %+v, %v", got, err)
		}
		stored, _ := f.users.Get(f.ctx, f.admin, u.ID)
		if stored.Department != "Sales" || !stored.UpdatedAt.Equal(got.UpdatedAt) {
			t.Fatalf("stored %+v", stored)
		}
	})
	t.Run("disabling revokes all sessions", func(t *testing.T) {
		if _, err := f.users.Update(f.ctx, f.admin, u.ID, UserUpdate{Status: ptr(StatusDisabled)}); err != nil {
			t.Fatal(err)
		}
		if n := f.revoker.count(u.ID); n != 1 {
			t.Fatalf("RevokeUser called %d times, want 1", n)
		}
		acc, _ := f.users.Account(f.ctx, u.ID)
		if acc.Active {
			t.Fatal("disabled account is active")
		}
	})
	t.Run("re-enabling does not revoke", func(t *testing.T) {
		if _, err := f.users.Update(f.ctx, f.admin, u.ID, UserUpdate{Status: ptr(StatusActive)}); err != nil {
			t.Fatal(err)
		}
		if n := f.revoker.count(u.ID); n != 1 {
			t.Fatalf("RevokeUser called %d times, want 1", n)
		}
	})
	t.Run("sets roles", func(t *testing.T) {
		got, err := f.users.SetRoles(f.ctx, f.admin, u.ID, roles(auth.RoleApprover))
		if err != nil || !sameRoles(got.Roles, roles(auth.RoleEmployee, auth.RoleApprover)) {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("resets the password and revokes sessions", func(t *testing.T) {
		before := f.revoker.count(u.ID)
		pw, err := f.users.ResetPassword(f.ctx, f.admin, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		acc, _ := f.users.Account(f.ctx, u.ID)
		if ok, err := auth.VerifyPassword(pw, acc.PasswordHash); !ok || err != nil || !acc.MustChangePassword {
			t.Fatalf("ok=%v err=%v account %+v", ok, err, acc)
		}
		if f.revoker.count(u.ID) != before+1 {
			t.Fatal("sessions not revoked")
		}
	})
	t.Run("revokes sessions on request", func(t *testing.T) {
		before := f.revoker.count(u.ID)
		if err := f.users.RevokeSessions(f.ctx, f.admin, u.ID); err != nil || f.revoker.count(u.ID) != before+1 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("reports unknown users as not found", func(t *testing.T) {
		_, err := f.users.Get(f.ctx, f.admin, "missing")
		wantCode(t, err, apperr.NotFound, "")
		_, err = f.users.Update(f.ctx, f.admin, "missing", UserUpdate{Name: ptr("x")})
		wantCode(t, err, apperr.NotFound, "")
		_, err = f.users.ResetPassword(f.ctx, f.admin, "missing")
		wantCode(t, err, apperr.NotFound, "")
		wantCode(t, f.users.RevokeSessions(f.ctx, f.admin, "missing"), apperr.NotFound, "")
	})
}

func TestMe(t *testing.T) {
	f := newFixture(t)
	u := f.create(t, CreateUser{EmployeeNo: "E1", Name: "Zhang"})
	p := &auth.Principal{UserID: u.ID, Roles: u.Roles}
	t.Run("returns the own record", func(t *testing.T) {
		if got, err := f.users.Me(f.ctx, u.ID); err != nil || got.EmployeeNo != "E1" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("changes locale and time zone", func(t *testing.T) {
		got, err := f.users.UpdateMe(f.ctx, p, MeUpdate{Locale: ptr("en"), Timezone: ptr("Europe/Berlin")})
		if err != nil || got.Locale != "en" || got.Timezone != "Europe/Berlin" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("restores the default for an empty value", func(t *testing.T) {
		got, err := f.users.UpdateMe(f.ctx, p, MeUpdate{Locale: ptr("")})
		if err != nil || got.Locale != DefaultLocale || got.Timezone != "Europe/Berlin" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("rejects bad values", func(t *testing.T) {
		_, err := f.users.UpdateMe(f.ctx, p, MeUpdate{Locale: ptr("ja")})
		wantCode(t, err, apperr.Invalid, "locale")
		_, err = f.users.UpdateMe(f.ctx, p, MeUpdate{Timezone: ptr("Atlantis/Capital")})
		wantCode(t, err, apperr.Invalid, "timezone")
	})
	t.Run("reports a deleted user as not found", func(t *testing.T) {
		_, err := f.users.Me(f.ctx, "missing")
		wantCode(t, err, apperr.NotFound, "")
	})
}
