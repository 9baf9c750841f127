package directory

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// cheapArgon keeps hashing fast in tests; production uses auth.DefaultArgon2.
var cheapArgon = auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}

func newClock() *testenv.Clock { return testenv.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) }

// fakeRevoker records the users whose sessions were revoked.
type fakeRevoker struct {
	mu      sync.Mutex
	revoked []string
}

func (f *fakeRevoker) RevokeUser(_ context.Context, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, userID)
	return nil
}

func (f *fakeRevoker) count(userID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, id := range f.revoked {
		if id == userID {
			n++
		}
	}
	return n
}

type fixture struct {
	ctx     context.Context
	users   *Users
	revoker *fakeRevoker
	clock   *testenv.Clock
	admin   *auth.Principal
	ops     *auth.Principal
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		ctx:     context.Background(),
		revoker: &fakeRevoker{},
		clock:   newClock(),
		admin:   &auth.Principal{UserID: "admin-actor", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}},
		ops:     &auth.Principal{UserID: "ops-actor", Roles: []auth.Role{auth.RoleEmployee, auth.RoleOps}},
	}
	f.users = &Users{DB: testenv.Mongo(t), Argon: cheapArgon, Sessions: f.revoker, Now: f.clock.Now}
	if err := f.users.EnsureIndexes(f.ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) create(t *testing.T, in CreateUser) *User {
	t.Helper()
	u, _, err := f.users.Create(f.ctx, f.admin, in)
	if err != nil {
		t.Fatalf("create %s: %v", in.EmployeeNo, err)
	}
	return u
}

// realAdmin creates an admin user and returns it with its principal.
func (f *fixture) realAdmin(t *testing.T) (*User, *auth.Principal) {
	t.Helper()
	u := f.create(t, CreateUser{EmployeeNo: "ADM1", Name: "Admin", Roles: []auth.Role{auth.RoleAdmin}})
	return u, &auth.Principal{UserID: u.ID, Roles: u.Roles}
}

func wantCode(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code || e.Field != field {
		t.Fatalf("error = %v, want code %q field %q", err, code, field)
	}
}

func ptr[T any](v T) *T { return &v }

func roles(rs ...auth.Role) []auth.Role { return rs }

func sameRoles(a, b []auth.Role) bool { return slices.Equal(a, b) }

// csvOf joins lines into a CSV file.
func csvOf(lines ...string) io.Reader { return strings.NewReader(strings.Join(lines, "\n") + "\n") }

// assertNoJSONKey fails if v's JSON has the top-level key.
func assertNoJSONKey(t *testing.T, v any, key string) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m[key]; ok {
		t.Fatalf("JSON %s has %q", b, key)
	}
}
