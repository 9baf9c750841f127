package media_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
)

func TestEnsureBucketsIsIdempotent(t *testing.T) {
	f := newFixture(t) // the first run
	for i := range 2 {
		if err := f.store.EnsureBuckets(ctx(t)); err != nil {
			t.Fatalf("EnsureBuckets run %d: %v", i+2, err)
		}
	}
	for _, b := range media.Buckets() {
		exists, err := f.admin.BucketExists(ctx(t), f.bucketName(b))
		if err != nil || !exists {
			t.Fatalf("bucket %s: exists %v, err %v", f.bucketName(b), exists, err)
		}
	}
	t.Run("runs from several replicas at once", func(t *testing.T) {
		g := newFixtureWithoutBuckets(t)
		errs := make(chan error, 4)
		for range 4 {
			go func() { errs <- g.store.EnsureBuckets(ctx(t)) }()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
}

func TestBucketsArePrivate(t *testing.T) {
	f := newFixture(t)
	for _, b := range media.Buckets() {
		f.put(t, b, "secret.bin", []byte("secret"))
	}
	anonymousGets := func(t *testing.T) {
		t.Helper()
		for _, b := range media.Buckets() {
			for _, path := range []string{"/secret.bin", "/"} { // the object, and a listing
				u := "http://" + f.endpoint + "/" + f.bucketName(b) + path
				if status, _, body := fetch(t, http.MethodGet, u, nil); status != http.StatusForbidden {
					t.Fatalf("anonymous GET %s: status %d, body %q; want 403", u, status, body)
				}
			}
		}
	}
	t.Run("refuses anonymous reads", anonymousGets)
	t.Run("removes a public policy someone added", func(t *testing.T) {
		name := f.bucketName(media.Images)
		policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},`+
			`"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, name)
		if err := f.admin.SetBucketPolicy(ctx(t), name, policy); err != nil {
			t.Fatal(err)
		}
		u := "http://" + f.endpoint + "/" + name + "/secret.bin"
		if status, _, _ := fetch(t, http.MethodGet, u, nil); status != http.StatusOK {
			t.Fatalf("the public policy did not take effect (status %d), so this test proves nothing", status)
		}
		if err := f.store.EnsureBuckets(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if got, err := f.admin.GetBucketPolicy(ctx(t), name); err != nil || got != "" {
			t.Fatalf("policy after EnsureBuckets: %q, %v", got, err)
		}
		anonymousGets(t)
	})
}

func TestPing(t *testing.T) {
	t.Run("succeeds when the buckets exist", func(t *testing.T) {
		f := newFixture(t)
		if err := f.store.Ping(ctx(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reports unavailable before the buckets exist", func(t *testing.T) {
		f := newFixtureWithoutBuckets(t)
		wantCode(t, f.store.Ping(ctx(t)), apperr.Unavailable)
	})
	t.Run("reports unavailable when the server is unreachable", func(t *testing.T) {
		store, err := media.NewMinIO(ctx(t), media.MinIOConfig{
			Endpoint:     fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
			AccessKey:    testenv.MinIOAccessKey,
			SecretKey:    testenv.MinIOSecretKey,
			BucketPrefix: "mportal-",
		})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, store.Ping(ctx(t)), apperr.Unavailable)
		// Ping turns every failure into unavailable; Stat shows the translation of a refused
		// connection (after minio-go's own retries).
		_, err = store.Stat(ctx(t), media.Images, "a.png")
		wantCode(t, err, apperr.Unavailable)
	})
	t.Run("reports unavailable when the caller has given up", func(t *testing.T) {
		f := newFixture(t)
		c, cancel := context.WithCancel(ctx(t))
		cancel()
		wantCode(t, f.store.Ping(c), apperr.Unavailable)
	})
}
