package updates_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/updates"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
)

func ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// releases is the release catalog in memory, standing in for the release service (whose own
// tests cover Catalog and Generation on the database): documents are replaced by id, as the
// service's upserts do.
type releases struct {
	mu    sync.Mutex
	token string
	c     release.Catalog
}

func (r *releases) Generation(context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.token, nil
}

func (r *releases) Catalog(context.Context) (*release.Catalog, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &release.Catalog{Apps: slices.Clone(r.c.Apps), Channels: slices.Clone(r.c.Channels),
		Members: slices.Clone(r.c.Members), Builds: slices.Clone(r.c.Builds), Tracks: slices.Clone(r.c.Tracks)}, nil
}

// replace puts each of docs into list in place of the document with its id, or at the end.
func replace[T any](list []T, id func(*T) string, docs []T) []T {
	for _, d := range docs {
		i := slices.IndexFunc(list, func(x T) bool { return id(&x) == id(&d) })
		if i < 0 {
			list = append(list, d)
		} else {
			list[i] = d
		}
	}
	return list
}

// save writes the fixture's documents into r, replacing earlier versions, and sets the
// generation token, as the release service does after every write.
func (f *fixture) save(t testing.TB, r *releases, token string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.c.Apps = replace(r.c.Apps, func(a *release.App) string { return a.ID }, f.d.Apps)
	r.c.Channels = replace(r.c.Channels, func(c *release.Channel) string { return c.ID }, f.d.Channels)
	r.c.Members = replace(r.c.Members, func(m *release.Member) string { return m.ID }, f.d.Members)
	r.c.Builds = replace(r.c.Builds, func(b *release.Build) string { return b.ID }, f.d.Builds)
	r.c.Tracks = replace(r.c.Tracks, func(tr *release.Track) string { return tr.ID }, f.d.Tracks)
	r.token = token
}

// countingStorage is an HTTP server standing in for MinIO that counts the requests it gets; a
// Store pointed at it proves which operations touch the network.
func countingStorage(t testing.TB) (*media.MinIO, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	store, err := media.NewMinIO(ctx(t), media.MinIOConfig{
		Endpoint: srv.Listener.Addr().String(), AccessKey: "k", SecretKey: "secret-key",
		Region: "us-east-1", BucketPrefix: "t-",
	})
	if err != nil {
		t.Fatal(err)
	}
	return store, &n
}

// service is a Service over a fresh database holding f, with storage that counts requests.
type service struct {
	*updates.Service
	db       *mongodb.DB
	releases *releases
	clock    *testenv.Clock
	requests *atomic.Int64
}

func newService(t testing.TB, f *fixture) *service {
	t.Helper()
	db := testenv.Mongo(t)
	rel := &releases{}
	f.save(t, rel, "t1")
	store, n := countingStorage(t)
	clock := testenv.NewClock(time.Now())
	return &service{
		Service: &updates.Service{
			View: &updates.View{Releases: rel}, DB: db, Store: store,
			Devices:       &directory.Devices{DB: db, Now: clock.Now},
			Signer:        updates.NewManifestSigner([]byte("0123456789abcdef0123456789abcdef")),
			PublicBaseURL: "https://portal.example.com", Now: clock.Now,
		},
		db: db, releases: rel, clock: clock, requests: n,
	}
}
