package upload_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mportal/mportal/api"
	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/media"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	basePath    = "/v1/uploads/"
	testPurpose = "test_photo"
	userHeader  = "X-Test-User" // the fixture's stand-in for bearer authentication
)

// fixture is a Service on fresh buckets and a fresh database behind an httptest server, with a
// test purpose that records its Complete calls.
type fixture struct {
	svc    *upload.Service
	store  *media.MinIO
	bucket string
	admin  *minio.Client
	srv    *httptest.Server
	clock  *testenv.Clock

	gate bodyGate
	// failOpens makes that many reads of the store fail, as if MinIO were briefly down.
	failOpens atomic.Int32
	db        *mongodb.DB

	mu          sync.Mutex
	completed   []upload.Info
	failNext    int // Complete calls that fail before one succeeds
	refuseNext  int // Complete calls that refuse the content (invalid)
	completions int
	rejections  []string               // the reasons Reject was called with
	failRejects int                    // Reject calls that fail before one succeeds
	roles       map[string][]auth.Role // a user's current roles; absent: employee
}

// opsPurpose is a test purpose that only ops may upload for.
const opsPurpose = "test_ops_photo"

// setRoles changes user's roles from the next request on, as a role change in the directory does.
func (f *fixture) setRoles(user string, roles ...auth.Role) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.roles == nil {
		f.roles = map[string][]auth.Role{}
	}
	f.roles[user] = roles
}

func (f *fixture) rolesOf(user string) []auth.Role {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.roles[user]; ok {
		return r
	}
	return []auth.Role{auth.RoleEmployee}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureVia(t, testenv.MinIOEndpoint(t))
}

// newFixtureVia is newFixture with tusd's S3 client reaching MinIO at endpoint (a
// testenv.Proxy's address).
func newFixtureVia(t testing.TB, endpoint string) *fixture {
	t.Helper()
	store := testenv.Store(t, "u")
	admin := testenv.MinIOAdmin(t)
	f := &fixture{store: store, bucket: store.BucketName(media.Uploads), admin: admin,
		clock: testenv.NewClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))}
	f.db = testenv.Mongo(t)
	var err error
	f.svc, err = upload.New(upload.Config{
		Store: flakyStore{Store: store, f: f}, DB: f.db, BasePath: basePath, Now: f.clock.Now, TempDir: t.TempDir(),
		PartSize: 5 << 20,
		S3: upload.S3Config{Endpoint: endpoint, AccessKey: testenv.MinIOAccessKey, SecretKey: testenv.MinIOSecretKey,
			Region: media.DefaultRegion, Bucket: f.bucket},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.EnsureIndexes(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.svc.Register(upload.Purpose{
		Name: testPurpose, MaxSize: 80 << 20, ContentTypes: []string{"image/png", "image/jpeg"},
		Authorize: func(_ context.Context, p *auth.Principal, meta map[string]string) error {
			if meta["record_id"] != "rec-"+p.UserID {
				return apperr.New(apperr.NotFound, "record not found")
			}
			return nil
		},
		Complete: f.complete,
		Reject:   f.reject,
	})
	f.svc.Register(upload.Purpose{
		Name: opsPurpose, MaxSize: 80 << 20, ContentTypes: []string{"image/png"}, Roles: []auth.Role{auth.RoleOps},
		Authorize: func(context.Context, *auth.Principal, map[string]string) error { return nil },
		Complete:  f.complete,
	})
	h := f.svc.Handler(api.HTTPProblems(slog.New(slog.NewTextHandler(io.Discard, nil))))
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get(userHeader); u != "" {
			r = r.WithContext(upload.WithPrincipal(r.Context(), &auth.Principal{UserID: u, Roles: f.rolesOf(u)}))
		}
		r.Body = f.gate.watch(r.Body)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// flakyStore fails Open while the fixture's failOpens is positive.
type flakyStore struct {
	media.Store
	f *fixture
}

func (s flakyStore) Open(ctx context.Context, b media.Bucket, key string, offset, length int64) (io.ReadCloser, error) {
	if s.f.failOpens.Add(-1) >= 0 {
		return nil, apperr.New(apperr.Unavailable, "object storage is unavailable")
	}
	return s.Store.Open(ctx, b, key, offset, length)
}

func (f *fixture) complete(_ context.Context, p *auth.Principal, in upload.Info) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completions++
	if f.failNext > 0 {
		f.failNext--
		return apperr.New(apperr.Unavailable, "the database is unavailable, try again later")
	}
	if f.refuseNext > 0 {
		f.refuseNext--
		return apperr.Field("Upload-Length", "the record declared another size")
	}
	if p.UserID != in.UserID {
		return fmt.Errorf("principal %s completes %s's upload", p.UserID, in.UserID)
	}
	f.completed = append(f.completed, in)
	return nil
}

func (f *fixture) reject(_ context.Context, _ *auth.Principal, in upload.Info, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRejects > 0 {
		f.failRejects--
		return apperr.New(apperr.Unavailable, "the database is unavailable, try again later")
	}
	f.rejections = append(f.rejections, in.ContentType+": "+reason)
	return nil
}

func (f *fixture) rejected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.rejections...)
}

func (f *fixture) completedUploads() []upload.Info {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upload.Info(nil), f.completed...)
}

// request sends one tus request as user ("" = unauthenticated).
func (f *fixture) request(t testing.TB, method, url, user string, headers map[string]string, body []byte) *http.Response {
	t.Helper()
	if !strings.HasPrefix(url, "http") {
		url = f.srv.URL + url
	}
	req, err := http.NewRequestWithContext(ctx(t), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if user != "" {
		req.Header.Set(userHeader, user)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// create starts an upload and returns its URL.
func (f *fixture) create(t testing.TB, user string, size int, meta map[string]string) string {
	t.Helper()
	resp := f.request(t, http.MethodPost, basePath, user, map[string]string{
		"Upload-Length": strconv.Itoa(size), "Upload-Metadata": encode(meta)}, nil)
	wantStatus(t, resp, http.StatusCreated)
	loc := resp.Header.Get("Location")
	if loc == "" {
		t.Fatal("no Location in the creation response")
	}
	return loc
}

func (f *fixture) patch(t testing.TB, user, url string, offset int, chunk []byte) *http.Response {
	t.Helper()
	return f.request(t, http.MethodPatch, url, user, map[string]string{
		"Upload-Offset": strconv.Itoa(offset), "Content-Type": "application/offset+octet-stream"}, chunk)
}

func (f *fixture) offset(t testing.TB, user, url string) int {
	t.Helper()
	resp := f.request(t, http.MethodHead, url, user, nil, nil)
	wantStatus(t, resp, http.StatusOK)
	n, err := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	if err != nil {
		t.Fatalf("Upload-Offset %q: %v", resp.Header.Get("Upload-Offset"), err)
	}
	return n
}
