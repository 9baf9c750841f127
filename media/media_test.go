package media_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fixture is a Store on fresh buckets plus an admin client for looking behind its back.
type fixture struct {
	store    *media.MinIO
	cfg      media.MinIOConfig
	endpoint string
	admin    *minio.Client
}

// newFixture returns a Store with a fresh bucket prefix and its buckets created. The buckets
// are emptied and removed when the test ends, so a shared MinIO does not fill up.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixtureWithoutBuckets(t)
	if err := f.store.EnsureBuckets(ctx(t)); err != nil {
		t.Fatalf("EnsureBuckets: %v", err)
	}
	return f
}

func newFixtureWithoutBuckets(t *testing.T) *fixture {
	t.Helper()
	endpoint := testenv.MinIOEndpoint(t)
	cfg := media.MinIOConfig{
		Endpoint:     endpoint,
		AccessKey:    testenv.MinIOAccessKey,
		SecretKey:    testenv.MinIOSecretKey,
		BucketPrefix: strings.ToLower(testenv.RandomName("t")) + "-",
	}
	store, err := media.NewMinIO(ctx(t), cfg)
	if err != nil {
		t.Fatalf("NewMinIO: %v", err)
	}
	admin, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(testenv.MinIOAccessKey, testenv.MinIOSecretKey, ""),
		Region: media.DefaultRegion,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: store, cfg: cfg, endpoint: endpoint, admin: admin}
	t.Cleanup(f.removeBuckets)
	return f
}

func (f *fixture) bucketName(b media.Bucket) string { return f.cfg.BucketPrefix + string(b) }

func (f *fixture) removeBuckets() {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, b := range media.Buckets() {
		name := f.bucketName(b)
		for obj := range f.admin.ListObjects(c, name, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err == nil {
				_ = f.admin.RemoveObject(c, name, obj.Key, minio.RemoveObjectOptions{})
			}
		}
		_ = f.admin.RemoveBucket(c, name)
	}
}

// put stores data and fails the test on error.
func (f *fixture) put(t *testing.T, b media.Bucket, key string, data []byte) media.ObjectInfo {
	t.Helper()
	info, err := f.store.Put(ctx(t), b, key, bytes.NewReader(data), int64(len(data)), "application/octet-stream")
	if err != nil {
		t.Fatalf("Put %s/%s: %v", b, key, err)
	}
	return info
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want code %s", code)
	}
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("got code %s (%v), want %s", got, err, code)
	}
}

// unsized hides a reader's length and seekability from minio-go, as a request body does.
type unsized struct{ r io.Reader }

func (u unsized) Read(p []byte) (int, error) { return u.r.Read(p) }

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}
