// Package media stores mportal's binary objects (app builds, announcement images, feedback
// attachments, training videos) in S3-compatible object storage. Services depend on the small
// Store interface; MinIO implements it with minio-go and is created once in cmd.
//
// Objects are private: clients never reach a bucket anonymously. They download and upload
// through short-lived presigned URLs that a service hands out after checking permissions.
package media

import (
	"context"
	"io"
	"net/url"
	"time"
)

// Bucket names one of mportal's fixed buckets. The real bucket name is the configured prefix
// followed by the Bucket, so several installations can share one storage server.
type Bucket string

// The fixed buckets. EnsureBuckets creates all of them.
const (
	Artifacts Bucket = "artifacts" // app builds: APK and IPA files
	Images    Bucket = "images"    // announcement images
	Uploads   Bucket = "uploads"   // feedback attachments uploaded by the apps
	Videos    Bucket = "videos"    // training videos
)

// Buckets returns every fixed bucket.
func Buckets() []Bucket { return []Bucket{Artifacts, Images, Uploads, Videos} }

// Presigned URL lifetimes. URLs are bearer credentials for one object, so they live minutes,
// not days: long enough to start a download or an upload, short enough that a leaked link
// (a screenshot, a proxy log) is soon useless.
const (
	DefaultPresignExpiry = 5 * time.Minute
	MaxPresignExpiry     = 15 * time.Minute
)

// ClampExpiry returns the lifetime a presigned URL requested with expiry actually gets:
// DefaultPresignExpiry when expiry is zero or negative, at most MaxPresignExpiry, and rounded
// up to whole seconds (the unit of the signature's X-Amz-Expires). Handlers use it to tell
// clients when a URL expires.
func ClampExpiry(expiry time.Duration) time.Duration {
	switch {
	case expiry <= 0:
		return DefaultPresignExpiry
	case expiry > MaxPresignExpiry:
		return MaxPresignExpiry
	}
	return (expiry + time.Second - 1).Truncate(time.Second)
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Bucket       Bucket
	Key          string
	Size         int64
	ContentType  string
	ETag         string
	LastModified time.Time // UTC
}

// Store is the object storage that services use. Keys are built by services, never taken
// verbatim from clients; a malformed key is still rejected with code invalid. An unknown
// Bucket is a programming error and returns a plain (internal) error. When the storage server
// cannot be reached every method returns code unavailable.
type Store interface {
	// Put stores the size bytes read from r under key, replacing any existing object, and
	// returns the stored object's info. size -1 streams r of unknown length in multipart
	// chunks. An empty contentType means application/octet-stream. An error r returns is
	// passed through (wrapped), so a size-limited reader's too_large keeps its code; r shorter
	// than size returns invalid.
	Put(ctx context.Context, bucket Bucket, key string, r io.Reader, size int64, contentType string) (ObjectInfo, error)

	// Replace is Put of an object that must still be the one whose ETag the caller read: it
	// returns conflict when the object was replaced since, and not_found when it was deleted
	// (nothing is written either way), so that a rewrite never undoes another writer's change
	// or brings a deleted object back.
	Replace(ctx context.Context, bucket Bucket, key, etag string, r io.Reader, size int64, contentType string) (ObjectInfo, error)

	// Stat returns the object's info, or not_found.
	Stat(ctx context.Context, bucket Bucket, key string) (ObjectInfo, error)

	// Open returns a reader of length bytes starting at offset; length -1 reads to the end.
	// It returns not_found for a missing object and invalid for a negative offset or a range
	// that does not lie within the object. The caller closes the reader.
	Open(ctx context.Context, bucket Bucket, key string, offset, length int64) (io.ReadCloser, error)

	// ReaderAt returns random access to the object and its size, for parsers that seek
	// (archive/zip reads the central directory at the end). Every ReadAt is one ranged GET,
	// made with ctx, and fails with conflict if the object was replaced since ReaderAt
	// returned. It returns not_found for a missing object.
	ReaderAt(ctx context.Context, bucket Bucket, key string) (io.ReaderAt, int64, error)

	// Delete removes the object. Deleting a missing object succeeds.
	Delete(ctx context.Context, bucket Bucket, key string) error

	// PresignGet returns a URL that downloads the object without credentials until expiry
	// (see ClampExpiry). A non-empty downloadName makes browsers save the file under that
	// name. It makes no network call, so it does not check that the object exists: Stat
	// first to report not_found. A malformed key or downloadName returns invalid.
	PresignGet(ctx context.Context, bucket Bucket, key string, expiry time.Duration, downloadName string) (*url.URL, error)

	// PresignPut returns a URL that uploads the object with a plain HTTP PUT until expiry
	// (see ClampExpiry). It makes no network call. A malformed key returns invalid.
	PresignPut(ctx context.Context, bucket Bucket, key string, expiry time.Duration) (*url.URL, error)
}
