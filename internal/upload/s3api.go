package upload

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/tus/tusd/v2/pkg/s3store"

	"github.com/mportal/mportal/internal/apperr"
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
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.PutObject(dctx, in, o...)
	return out, storageError(ctx, err)
}

func (d detachedS3) ListParts(ctx context.Context, in *s3.ListPartsInput, o ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.ListParts(dctx, in, o...)
	return out, storageError(ctx, err)
}

func (d detachedS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.UploadPart(dctx, in, o...)
	return out, storageError(ctx, err)
}

func (d detachedS3) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.GetObject(dctx, in, o...)
	return out, storageError(ctx, err)
}

func (d detachedS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.HeadObject(dctx, in, o...)
	return out, storageError(ctx, err)
}

func (d detachedS3) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, o ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.CreateMultipartUpload(dctx, in, o...)
	return out, storageError(ctx, err)
}

func (d detachedS3) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.AbortMultipartUpload(dctx, in, o...)
	return out, storageError(ctx, err)
}

func (d detachedS3) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, o ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.DeleteObject(dctx, in, o...)
	return out, storageError(ctx, err)
}

func (d detachedS3) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, o ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.DeleteObjects(dctx, in, o...)
	return out, storageError(ctx, err)
}

func (d detachedS3) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.CompleteMultipartUpload(dctx, in, o...)
	return out, storageError(ctx, err)
}

func (d detachedS3) UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, o ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error) {
	dctx, stop := detach(ctx)
	defer stop()
	out, err := d.c.UploadPartCopy(dctx, in, o...)
	return out, storageError(ctx, err)
}

// storageError returns err, first recording it as the request's failure when it is a transient
// failure of object storage: no connection (refused, reset, timed out), or an answer of 502, 503 or
// 504 (MinIO starting up, SlowDown). tusd would answer such an error 500, and s3store words some
// of them into new errors (it formats them with %s), so the request's problem is written from
// the recorded failure instead (problemWriter.finish): 503 with Retry-After. Every other error, S3's
// NoSuchKey and NoSuchUpload among them, is left to s3store, which acts on them.
//
// ctx is tusd's own context, read here in the caller's goroutine (see detach).
func storageError(ctx context.Context, err error) error {
	if err != nil && storageUnavailable(err) {
		if f, ok := ctx.Value(failureKey{}).(*failure); ok {
			f.set(apperr.Wrap(err, apperr.Unavailable, "object storage is unavailable; retry later"))
		}
	}
	return err
}

func storageUnavailable(err error) bool {
	var resp *smithyhttp.ResponseError // its status is 0 when no answer came: the checks below
	if errors.As(err, &resp) {
		switch resp.HTTPStatusCode() {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	var netErr net.Error // *url.Error and *net.OpError: dial, read and write failures
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &netErr) && !errors.Is(err, context.Canceled))
}
