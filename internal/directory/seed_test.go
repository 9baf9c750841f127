package directory

import (
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

func TestSeedAdmin(t *testing.T) {
	t.Run("seeds exactly once when 8 instances start together", func(t *testing.T) {
		f := newFixture(t)
		const n = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		created := make([]bool, n)
		passwords := make([]string, n)
		errs := make([]error, n)
		for g := 0; g < n; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				passwords[g], created[g], errs[g] = f.users.SeedAdmin(f.ctx, "admin")
			}(g)
		}
		close(start)
		wg.Wait()
		winner := -1
		for g := 0; g < n; g++ {
			if errs[g] != nil {
				t.Fatalf("instance %d: %v", g, errs[g])
			}
			if created[g] {
				if winner >= 0 {
					t.Fatalf("instances %d and %d both seeded", winner, g)
				}
				winner = g
			}
		}
		if winner < 0 {
			t.Fatal("nobody seeded")
		}
		if c, err := f.users.users().CountDocuments(f.ctx, bson.D{}); err != nil || c != 1 {
			t.Fatalf("%d users (err %v), want 1", c, err)
		}
		acc, err := f.users.FindByLogin(f.ctx, "ADMIN")
		if err != nil || !acc.MustChangePassword || !acc.Active || !sameRoles(acc.Roles, roles(auth.RoleEmployee, auth.RoleAdmin)) {
			t.Fatalf("got %+v, %v", acc, err)
		}
		if ok, err := auth.VerifyPassword(passwords[winner], acc.PasswordHash); !ok || err != nil {
			t.Fatalf("the returned password does not verify: %v", err)
		}
	})
	t.Run("does nothing once seeded", func(t *testing.T) {
		f := newFixture(t)
		if _, created, err := f.users.SeedAdmin(f.ctx, "admin"); err != nil || !created {
			t.Fatalf("first: %v %v", created, err)
		}
		pw, created, err := f.users.SeedAdmin(f.ctx, "admin2")
		if err != nil || created || pw != "" {
			t.Fatalf("second: %q %v %v", pw, created, err)
		}
	})
	t.Run("does nothing when an admin exists", func(t *testing.T) {
		f := newFixture(t)
		f.create(t, CreateUser{EmployeeNo: "boss", Name: "Boss", Roles: roles(auth.RoleAdmin)})
		if _, created, err := f.users.SeedAdmin(f.ctx, "admin"); err != nil || created {
			t.Fatalf("got %v %v", created, err)
		}
	})
	t.Run("rejects a bad employee number and can be retried", func(t *testing.T) {
		f := newFixture(t)
		_, _, err := f.users.SeedAdmin(f.ctx, "bad number")
		wantCode(t, err, apperr.Invalid, "employee_no")
		f.create(t, CreateUser{EmployeeNo: "taken", Name: "Someone"})
		_, _, err = f.users.SeedAdmin(f.ctx, "taken")
		wantCode(t, err, apperr.Conflict, "employee_no")
		if _, created, err := f.users.SeedAdmin(f.ctx, "admin"); err != nil || !created {
			t.Fatalf("retry: %v %v", created, err)
		}
	})
}
