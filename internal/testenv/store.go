package testenv

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	minioclient "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mportal/mportal/media"
)

// Store returns a media store on the shared MinIO server (MinIOEndpoint) whose buckets have a
// fresh random prefix starting with prefix, so tests never see each other's objects. The
// buckets exist on return and are emptied and removed when the test ends.
func Store(tb testing.TB, prefix string) *media.MinIO {
	tb.Helper()
	bucketPrefix := strings.ToLower(RandomName(prefix)) + "-"
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	store, err := media.NewMinIO(ctx, media.MinIOConfig{Endpoint: MinIOEndpoint(tb), AccessKey: MinIOAccessKey,
		SecretKey: MinIOSecretKey, BucketPrefix: bucketPrefix})
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.EnsureBuckets(ctx); err != nil {
		tb.Fatal(err)
	}
	admin := MinIOAdmin(tb)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, b := range media.Buckets() {
			name := bucketPrefix + string(b)
			for up := range admin.ListIncompleteUploads(ctx, name, "", true) {
				_ = admin.RemoveIncompleteUpload(ctx, name, up.Key)
			}
			for obj := range admin.ListObjects(ctx, name, minioclient.ListObjectsOptions{Recursive: true}) {
				_ = admin.RemoveObject(ctx, name, obj.Key, minioclient.RemoveObjectOptions{})
			}
			_ = admin.RemoveBucket(ctx, name)
		}
	})
	return store
}

// MinIOAdmin returns a plain minio-go client of the shared MinIO server, for tests that look
// at buckets below the media API (incomplete multipart uploads, raw listings).
func MinIOAdmin(tb testing.TB) *minioclient.Client {
	tb.Helper()
	admin, err := minioclient.New(MinIOEndpoint(tb), &minioclient.Options{
		Creds: credentials.NewStaticV4(MinIOAccessKey, MinIOSecretKey, ""), Region: media.DefaultRegion})
	if err != nil {
		tb.Fatal(err)
	}
	return admin
}

// Object reads the object key of bucket whole from store, failing the test when it cannot.
func Object(tb testing.TB, store media.Store, bucket media.Bucket, key string) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	r, err := store.Open(ctx, bucket, key, 0, -1)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
