package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fakeAccounts is an in-memory directory.
type fakeAccounts struct {
	mu    sync.Mutex
	users map[string]*fakeUser // by id
	// afterRead, when set, runs once after the next FindByLogin or Account has read: what
	// another request does while this one checks the password.
	afterRead func()
}

func (f *fakeAccounts) readDone() {
	f.mu.Lock()
	hook := f.afterRead
	f.afterRead = nil
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
}

type fakeUser struct {
	acc               Account
	employeeNo, email string
}

func (f *fakeAccounts) add(t *testing.T, id, employeeNo, email, password string, roles ...Role) {
	t.Helper()
	var hash string
	if password != "" {
		var err error
		if hash, err = HashPassword(password, cheap); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users == nil {
		f.users = map[string]*fakeUser{}
	}
	f.users[id] = &fakeUser{
		acc:        Account{ID: id, PasswordHash: hash, Department: "R&D", Roles: roles, Active: true},
		employeeNo: employeeNo, email: email,
	}
}

func (f *fakeAccounts) update(id string, change func(*Account)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.users[id].acc)
}

func (f *fakeAccounts) get(id string) Account {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.users[id].acc
}

func (f *fakeAccounts) FindByLogin(_ context.Context, login string) (*Account, error) {
	defer f.readDone()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if strings.EqualFold(u.employeeNo, login) || (u.email != "" && strings.EqualFold(u.email, login)) {
			acc := u.acc
			return &acc, nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "user not found")
}

func (f *fakeAccounts) Account(_ context.Context, userID string) (*Account, error) {
	defer f.readDone()
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[userID]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	acc := u.acc
	return &acc, nil
}

func (f *fakeAccounts) SetPassword(_ context.Context, userID, hash string, mustChange bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[userID]
	if !ok {
		return apperr.New(apperr.NotFound, "user not found")
	}
	u.acc.PasswordHash, u.acc.MustChangePassword = hash, mustChange
	return nil
}

func (f *fakeAccounts) ReplacePassword(_ context.Context, userID, oldHash, newHash string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[userID]
	switch {
	case !ok:
		return apperr.New(apperr.NotFound, "user not found")
	case u.acc.PasswordHash != oldHash:
		return apperr.New(apperr.Conflict, "the password changed meanwhile")
	}
	u.acc.PasswordHash, u.acc.MustChangePassword = newHash, false
	return nil
}

var _ Accounts = (*fakeAccounts)(nil)

const alicePassword = "alice-secret-1"

type fixture struct {
	s        *Sessions
	accounts *fakeAccounts
	clock    *fakeClock
}

// newFixture returns Sessions on a fresh database with alice (u1) and bob (u2).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	clock := newFakeClock()
	accounts := &fakeAccounts{}
	accounts.add(t, "u1", "E1001", "alice@example.com", alicePassword, RoleEmployee, RoleApprover)
	accounts.add(t, "u2", "E1002", "bob@example.com", "bob-secret-22", RoleEmployee)
	s := &Sessions{
		DB:       testenv.Mongo(t),
		Accounts: accounts,
		Tokens:   newTokens(t, clock.Now, newKey(t)),
		Throttle: newTestThrottle(clock),
		Recheck:  30 * time.Second,
		Argon:    cheap,
		Now:      clock.Now,
	}
	if err := s.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, accounts: accounts, clock: clock}
}

func (f *fixture) login(t *testing.T, login, password, device string) *TokenPair {
	t.Helper()
	pair, err := f.s.Login(context.Background(), LoginInput{Login: login, Password: password, DeviceID: device, IP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("login %s: %v", login, err)
	}
	return pair
}

func wantCode(t *testing.T, err error, code apperr.Code) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	return e
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	t.Run("issues a token pair for the right password", func(t *testing.T) {
		pair := f.login(t, "E1001", alicePassword, "phone-1")
		if pair.UserID != "u1" || pair.SessionID == "" || pair.RefreshToken == "" || pair.PasswordChangeRequired {
			t.Fatalf("pair %+v", pair)
		}
		if !pair.RefreshExpiresAt.Equal(f.clock.Now().Add(DefaultRefreshTTL)) {
			t.Fatalf("refresh expires %v", pair.RefreshExpiresAt)
		}
		p, err := f.s.Authenticate(ctx, pair.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if p.UserID != "u1" || p.SessionID != pair.SessionID || p.DeviceID != "phone-1" || !p.HasRole(RoleApprover) || p.Department != "R&D" {
			t.Fatalf("principal %+v", p)
		}
	})
	t.Run("accepts the e-mail in any case", func(t *testing.T) {
		if pair := f.login(t, "  Alice@Example.COM ", alicePassword, "phone-1"); pair.UserID != "u1" {
			t.Fatalf("user %s", pair.UserID)
		}
	})
	t.Run("reports a required password change", func(t *testing.T) {
		f.accounts.update("u2", func(a *Account) { a.MustChangePassword = true })
		pair := f.login(t, "E1002", "bob-secret-22", "tablet")
		p, err := f.s.Authenticate(ctx, pair.AccessToken)
		if err != nil || !pair.PasswordChangeRequired || !p.PasswordChangeRequired {
			t.Fatalf("pair %+v principal %+v err %v", pair, p, err)
		}
	})
	t.Run("rejects an overlong login before counting it", func(t *testing.T) {
		// Each failure keeps its login in the throttle for the window: 8 MiB logins filled memory.
		_, err := f.s.Login(ctx, LoginInput{Login: strings.Repeat("x", MaxLoginLen+1), Password: "p", DeviceID: "d"})
		if e := wantCode(t, err, apperr.Invalid); e.Field != "login" {
			t.Fatalf("field %q", e.Field)
		}
	})
	t.Run("a login racing a password reset keeps no session", func(t *testing.T) {
		// The reset writes the new hash and revokes the sessions it lists while the login checks
		// the old hash; the login's session is inserted after that list. Before, it lived on.
		f.accounts.add(t, "u3", "E1003", "", "carol-secret-3", RoleEmployee)
		f.accounts.afterRead = func() {
			f.accounts.update("u3", func(a *Account) { a.PasswordHash, a.MustChangePassword = "$argon2id$reset", true })
			if err := f.s.RevokeUser(ctx, "u3"); err != nil {
				t.Error(err)
			}
		}
		_, err := f.s.Login(ctx, LoginInput{Login: "E1003", Password: "carol-secret-3", DeviceID: "d3", IP: "10.0.0.3"})
		wantCode(t, err, apperr.Unauthorized)
		if ids, err := f.s.liveSessions(ctx, "u3", ""); err != nil || len(ids) != 0 {
			t.Fatalf("live sessions %v (%v)", ids, err)
		}
	})
	t.Run("rejects malformed device ids", func(t *testing.T) {
		for _, device := range []string{"", "has space", "semi;colon", strings.Repeat("d", 129)} {
			_, err := f.s.Login(ctx, LoginInput{Login: "E1001", Password: alicePassword, DeviceID: device})
			if e := wantCode(t, err, apperr.Invalid); e.Field != "device_id" {
				t.Fatalf("%q: field %q", device, e.Field)
			}
		}
	})
}

func TestLoginFailuresLookAlike(t *testing.T) {
	f := newFixture(t)
	f.accounts.add(t, "u3", "E1003", "", "") // never had a password
	f.accounts.add(t, "u4", "E1004", "", "dora-secret-4")
	f.accounts.update("u4", func(a *Account) { a.Active = false })
	ctx := context.Background()

	attempts := []struct{ name, login, password string }{
		{"an unknown user", "E9999", alicePassword},
		{"a wrong password", "E1001", "wrong-password"},
		{"a disabled user with the right password", "E1004", "dora-secret-4"},
		{"a user without a password", "E1003", "anything-at-all"},
		{"an overlong password", "E1001", strings.Repeat("x", MaxPasswordLen+1)},
	}
	for _, a := range attempts {
		t.Run("rejects "+a.name+" with the generic error", func(t *testing.T) {
			_, err := f.s.Login(ctx, LoginInput{Login: a.login, Password: a.password, DeviceID: "d1", IP: a.name})
			e := wantCode(t, err, apperr.Unauthorized)
			if e.Message != "invalid login or password" || e.Field != "" {
				t.Fatalf("error %#v", e)
			}
		})
	}
}

func TestLoginThrottling(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_, err := f.s.Login(ctx, LoginInput{Login: "E1001", Password: "wrong-password", DeviceID: "d1", IP: "10.9.9.9"})
		wantCode(t, err, apperr.Unauthorized)
	}
	t.Run("refuses even the right password while locked", func(t *testing.T) {
		_, err := f.s.Login(ctx, LoginInput{Login: "e1001", Password: alicePassword, DeviceID: "d1", IP: "10.9.9.8"})
		if e := wantCode(t, err, apperr.RateLimited); e.RetryAfter != time.Second {
			t.Fatalf("RetryAfter %v", e.RetryAfter)
		}
	})
	t.Run("lets the right password in once the lock has passed", func(t *testing.T) {
		f.clock.Advance(time.Second)
		f.login(t, "E1001", alicePassword, "d1")
	})
}
