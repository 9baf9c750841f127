package release

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/push"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	opsUser  = &auth.Principal{UserID: "u-ops", Roles: []auth.Role{auth.RoleEmployee, auth.RoleOps}, Department: "Ops"}
	employee = &auth.Principal{UserID: "u-emp", Roles: []auth.Role{auth.RoleEmployee}, Department: "Sales"}
	itStaff  = &auth.Principal{UserID: "u-it", Roles: []auth.Role{auth.RoleEmployee}, Department: "IT"}
)

// fakePusher records enqueued notifications.
type fakePusher struct {
	mu   sync.Mutex
	sent []push.Notification
}

func (f *fakePusher) Enqueue(_ context.Context, n push.Notification) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, n)
	return n.Key, true, nil
}

func (f *fakePusher) all() []push.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]push.Notification(nil), f.sent...)
}

// anyUser knows every user id except those starting with "ghost".
type anyUser struct{}

func (anyUser) Me(_ context.Context, id string) (*directory.User, error) {
	if strings.HasPrefix(id, "ghost") {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	return &directory.User{ID: id}, nil
}

// recordingHook records access grants and revocations.
type recordingHook struct {
	mu     sync.Mutex
	events []string
}

func (h *recordingHook) Grant(_ context.Context, userID, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, "grant "+userID+" "+key)
	return nil
}

func (h *recordingHook) Revoke(_ context.Context, userID, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, "revoke "+userID+" "+key)
	return nil
}

type fixture struct {
	svc     *Service
	store   *media.MinIO
	push    *fakePusher
	hook    *recordingHook
	changes int
	mu      sync.Mutex
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{store: testenv.Store(t, "rel"), push: &fakePusher{}, hook: &recordingHook{}}
	f.svc = &Service{DB: testenv.Mongo(t), Store: f.store, Push: f.push, Users: anyUser{}, Access: f.hook,
		OnChange: func() { f.mu.Lock(); f.changes++; f.mu.Unlock() }}
	if err := f.svc.EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}
	return f
}

// app creates an app with both identities.
func (f *fixture) app(t testing.TB, id string) *App {
	t.Helper()
	a, err := f.svc.CreateApp(t.Context(), opsUser, AppInput{ID: id, Name: "Portal " + id,
		AndroidPackage: "com.example." + strings.ReplaceAll(id, "-", ""), IOSBundleID: "com.example." + id})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// upload starts an upload, PUTs data to the presigned URL like a client would, and returns the
// upload key.
func (f *fixture) upload(t testing.TB, appID string, plat Platform, data []byte) string {
	t.Helper()
	tk, err := f.svc.StartUpload(t.Context(), opsUser, appID, UploadInput{Platform: plat, Size: int64(len(data)), Filename: "app" + fileExt(plat)})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), tk.Method, tk.UploadURL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT upload: %s", resp.Status)
	}
	return tk.UploadKey
}

// build uploads data and creates the build.
func (f *fixture) build(t testing.TB, appID string, plat Platform, data []byte) *Build {
	t.Helper()
	b, err := f.svc.CreateBuild(t.Context(), opsUser, appID, BuildInput{UploadKey: f.upload(t, appID, plat, data)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeBuild records a build document without a file, for tests of tracks only.
func (f *fixture) fakeBuild(t testing.TB, appID string, plat Platform, n int64) *Build {
	t.Helper()
	b := Build{ID: BuildID(appID, plat, n), PublicID: PublicBuildID(plat, n), AppID: appID, Platform: plat, Build: n,
		Version: "1.0." + itoa(n), ObjectKey: appID + "/" + string(plat) + "/" + itoa(n) + fileExt(plat), UploadedAt: time.Now()}
	if _, err := f.svc.coll(buildsColl).InsertOne(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	return &b
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if apperr.CodeOf(err) != code {
		t.Fatalf("err = %v (code %q), want code %q", err, apperr.CodeOf(err), code)
	}
}
