package upload

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tus/tusd/v2/pkg/s3store"
)

// detach returns a context that is cancelled when ctx is done but shares nothing else with it,
// and a function that releases it; the returned context stays usable after release (a GetObject
// body is read after the call returns).
//
// tusd v2.8.0 hands its per-request context to the store and the hooks, and that context's
// Value method copies a struct that tusd's handler keeps writing (its logger). net/http's
// transport calls Value on a request context's parents from its own goroutines when it cancels
// a request, which the race detector rightly reports. Work that reaches other goroutines (S3,
// MinIO, MongoDB) therefore runs on a context whose parent is Background: the only look at ctx
// is context.AfterFunc's, made here, in the caller's goroutine.
func detach(ctx context.Context) (context.Context, func()) {
	d, cancel := context.WithCancelCause(context.Background())
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	return d, func() { stop() }
}

// detachedS3 is the S3 client tusd's store uses, with every call on a detached context.
type detachedS3 struct{ c *s3.Client }

var _ s3store.S3API = detachedS3{}

func (d detachedS3) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.PutObject(ctx, in, o...)
}

func (d detachedS3) ListParts(ctx context.Context, in *s3.ListPartsInput, o ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.ListParts(ctx, in, o...)
}

func (d detachedS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.UploadPart(ctx, in, o...)
}

func (d detachedS3) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.GetObject(ctx, in, o...)
}

func (d detachedS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.HeadObject(ctx, in, o...)
}

func (d detachedS3) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, o ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.CreateMultipartUpload(ctx, in, o...)
}

func (d detachedS3) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.AbortMultipartUpload(ctx, in, o...)
}

func (d detachedS3) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, o ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.DeleteObject(ctx, in, o...)
}

func (d detachedS3) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, o ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.DeleteObjects(ctx, in, o...)
}

func (d detachedS3) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.CompleteMultipartUpload(ctx, in, o...)
}

func (d detachedS3) UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, o ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error) {
	ctx, stop := detach(ctx)
	defer stop()
	return d.c.UploadPartCopy(ctx, in, o...)
}
