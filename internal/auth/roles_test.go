package auth

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

// replica returns a second instance over the same database, directory and keys, with its own
// caches, as another pod of the deployment would be.
func (f *fixture) replica() *Sessions {
	return &Sessions{DB: f.s.DB, Accounts: f.s.Accounts, Tokens: f.s.Tokens, Recheck: f.s.Recheck,
		Argon: f.s.Argon, Now: f.s.Now}
}

// TestRoleChangesReachOldTokens: roles authorize from the user as rechecked with the session, not
// from the token's claims, so a demotion bites within Recheck on every instance, although the
// demoted user's access token still says admin for up to 15 minutes.
func TestRoleChangesReachOldTokens(t *testing.T) {
	f := newFixture(t)
	f.accounts.update("u2", func(a *Account) { a.Roles = []Role{RoleEmployee, RoleAdmin} })
	pair := f.login(t, "E1002", "bob-secret-22", "bobs-phone")
	other := f.replica()
	for name, s := range map[string]*Sessions{"this instance": f.s, "another instance": other} {
		if p := mustAuthenticate(t, s, pair.AccessToken); !p.HasRole(RoleAdmin) {
			t.Fatalf("%s: roles %v before the demotion", name, p.Roles)
		}
	}

	f.accounts.update("u2", func(a *Account) { a.Roles = []Role{RoleEmployee}; a.Department = "Sales" })
	t.Run("a demotion waits at most Recheck", func(t *testing.T) {
		f.clock.Advance(f.s.Recheck - ReadAhead - time.Second) // before a busy session's read ahead
		if p := mustAuthenticate(t, f.s, pair.AccessToken); !p.HasRole(RoleAdmin) {
			t.Fatalf("the cache was not used between rechecks: roles %v", p.Roles)
		}
	})
	t.Run("then no instance grants the old roles", func(t *testing.T) {
		f.clock.Advance(ReadAhead + time.Second)
		for name, s := range map[string]*Sessions{"this instance": f.s, "another instance": other} {
			p := mustAuthenticate(t, s, pair.AccessToken)
			if p.HasRole(RoleAdmin) || !p.HasRole(RoleEmployee) || p.Department != "Sales" {
				t.Errorf("%s: roles %v, department %q after the recheck", name, p.Roles, p.Department)
			}
			if err := RequireRole(p, RoleAdmin); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s: RequireRole(admin) = %v", name, err)
			}
		}
	})
	t.Run("a promotion reaches this instance at the next refresh", func(t *testing.T) {
		f.accounts.update("u2", func(a *Account) { a.Roles = []Role{RoleEmployee, RoleOps} })
		fresh, err := f.s.Refresh(context.Background(), pair.RefreshToken, "bobs-phone")
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{fresh.AccessToken, pair.AccessToken} {
			if p := mustAuthenticate(t, f.s, tok); !slices.Equal(p.Roles, []Role{RoleEmployee, RoleOps}) {
				t.Errorf("roles %v right after the refresh", p.Roles)
			}
		}
	})
	t.Run("a user disabled without revoking the sessions is shut out at the recheck", func(t *testing.T) {
		f.accounts.update("u2", func(a *Account) { a.Active = false })
		f.clock.Advance(f.s.Recheck)
		for name, s := range map[string]*Sessions{"this instance": f.s, "another instance": other} {
			if _, err := s.Authenticate(context.Background(), pair.AccessToken); !apperr.Is(err, apperr.Unauthorized) {
				t.Errorf("%s: Authenticate = %v, want unauthorized", name, err)
			}
		}
	})
}
