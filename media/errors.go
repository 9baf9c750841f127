package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/mportal/mportal/internal/apperr"
)

// translate turns a minio-go error into mportal's error vocabulary, like gitea's
// convertMinioErr. It is the only place that looks at storage error codes. The storage
// server's own message never reaches apperr.Error.Message: it stays in Err, for logs.
// Anything it does not recognise (bad credentials, a misconfigured server) is returned as a
// plain error, which callers report as internal.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		if code, msg, ok := responseCode(resp); ok {
			return apperr.Wrap(err, code, "%s", msg)
		}
		return fmt.Errorf("object storage: %w", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(err, apperr.Unavailable, "object storage did not answer in time")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return apperr.Wrap(err, apperr.Unavailable, "object storage closed the connection early")
	}
	var netErr net.Error // also *url.Error, the transport's wrapper around dial and read failures
	if errors.As(err, &netErr) && !errors.Is(err, context.Canceled) {
		return apperr.Wrap(err, apperr.Unavailable, "object storage is unavailable")
	}
	// context.Canceled means the caller gave up; there is no one to tell, so keep it plain.
	return fmt.Errorf("object storage: %w", err)
}

// responseCode maps an S3 error response to a code and a message written for people.
func responseCode(resp minio.ErrorResponse) (apperr.Code, string, bool) {
	switch resp.Code {
	case minio.NoSuchKey, minio.NoSuchVersion:
		return apperr.NotFound, "object not found", true
	case minio.NoSuchBucket:
		return apperr.NotFound, "bucket not found", true
	case minio.InvalidRange:
		return apperr.Invalid, "the requested range is outside the object", true
	case minio.PreconditionFailed:
		return apperr.Conflict, "the object changed while it was being read", true
	case minio.EntityTooLarge:
		return apperr.TooLarge, "the object is too large", true
	case minio.UnexpectedEOF, minio.IncompleteBody:
		return apperr.Invalid, "the upload is shorter than its declared size", true
	case minio.XMinioInvalidObjectName, "InvalidObjectName", "KeyTooLongError":
		return apperr.Invalid, "invalid object key", true
	case "SlowDown", "ServiceUnavailable", "XMinioServerNotInitialized", "RequestTimeout":
		return apperr.Unavailable, "object storage is busy; retry later", true
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return apperr.NotFound, "object not found", true
	case http.StatusRequestedRangeNotSatisfiable:
		return apperr.Invalid, "the requested range is outside the object", true
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return apperr.Unavailable, "object storage is unavailable", true
	}
	return "", "", false
}

// uploadSource watches the caller's reader during Put, so that what the reader did, not
// minio-go's rewording of it, decides what a failed Put returns: the first error it returned,
// or whether it ended before the declared size (which the HTTP transport reports as a
// connection failure).
type uploadSource struct {
	r   io.Reader
	n   int64
	eof bool
	err error
}

func (s *uploadSource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	switch {
	case err == io.EOF:
		s.eof = true
	case err != nil && s.err == nil:
		s.err = err
	}
	return n, err
}

// failure explains a failed upload of size bytes (-1: unknown) from the reader's side, or
// returns nil when the reader behaved.
func (s *uploadSource) failure(size int64) error {
	switch {
	case s.err != nil:
		return fmt.Errorf("read upload: %w", s.err)
	case s.eof && size >= 0 && s.n < size:
		return apperr.New(apperr.Invalid, "the upload is shorter than its declared size")
	}
	return nil
}

// translatingBody translates errors met while streaming a body that Open returned, so a
// connection dropped mid-download reads as unavailable. io.EOF passes through unchanged, as
// readers must return it bare.
type translatingBody struct {
	io.ReadCloser
}

func (b translatingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = translate(err)
	}
	return n, err
}
