package updates_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

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

// save writes the fixture's documents into db, replacing earlier versions, and sets the
// generation token, as the release service does after every write.
func (f *fixture) save(t testing.TB, db *mongodb.DB, token string) {
	t.Helper()
	put := func(coll, id string, doc any) {
		_, err := db.Collection(coll).ReplaceOne(ctx(t), bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
		if err != nil {
			t.Fatalf("save %s %s: %v", coll, id, err)
		}
	}
	for _, a := range f.d.Apps {
		put(release.AppsColl, a.ID, a)
	}
	for _, c := range f.d.Channels {
		put(release.ChannelsColl, c.ID, c)
	}
	for _, m := range f.d.Members {
		put(release.MembersColl, m.ID, m)
	}
	for _, b := range f.d.Builds {
		put(release.BuildsColl, b.ID, b)
	}
	for _, tr := range f.d.Tracks {
		put(release.TracksColl, tr.ID, tr)
	}
	put(release.MetaColl, release.GenerationID, bson.D{{Key: "token", Value: token}})
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
	clock    *testenv.Clock
	requests *atomic.Int64
}

func newService(t testing.TB, f *fixture) *service {
	t.Helper()
	db := testenv.Mongo(t)
	f.save(t, db, "t1")
	store, n := countingStorage(t)
	clock := testenv.NewClock(time.Now())
	return &service{
		Service: &updates.Service{
			View: &updates.View{DB: db}, DB: db, Store: store,
			Signer:        updates.NewManifestSigner([]byte("0123456789abcdef0123456789abcdef")),
			PublicBaseURL: "https://portal.example.com", Now: clock.Now,
		},
		db: db, clock: clock, requests: n,
	}
}
