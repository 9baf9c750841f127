package media

import (
	"context"
	"io"
	"math"
	"mime"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/mportal/mportal/internal/apperr"
)

// streamPartSize is the multipart chunk for Put with size -1. minio-go buffers one chunk in
// memory and would otherwise pick ~537 MiB (5 TiB / 10000 parts); 16 MiB keeps a streamed
// upload cheap and still allows objects up to 160 GiB.
const streamPartSize = 16 << 20

const defaultContentType = "application/octet-stream"

// Put implements Store.
func (m *MinIO) Put(ctx context.Context, bucket Bucket, key string, r io.Reader, size int64, contentType string) (_ ObjectInfo, err error) {
	defer apperr.Wrapf(&err, "media: put %s/%s", bucket, key)
	return m.put(ctx, bucket, key, "", r, size, contentType)
}

// Replace implements Store: a PUT with If-Match, always in one request. minio-go sends a
// larger object (16 MiB and up) as a multipart upload, whose completion does not carry the
// If-Match header: MinIO would check the ETag when the upload starts and not when it completes,
// so an object deleted or replaced meanwhile would be written over or brought back.
func (m *MinIO) Replace(ctx context.Context, bucket Bucket, key, etag string, r io.Reader, size int64, contentType string) (_ ObjectInfo, err error) {
	defer apperr.Wrapf(&err, "media: replace %s/%s", bucket, key)
	if etag == "" {
		return ObjectInfo{}, apperr.Field("etag", "the ETag of the object to replace is required")
	}
	if size < 0 {
		return ObjectInfo{}, apperr.Field("size", "a replacement's size must be known")
	}
	return m.put(ctx, bucket, key, etag, r, size, contentType)
}

// put stores an object, only over the object with ETag matchETag when it is set.
func (m *MinIO) put(ctx context.Context, bucket Bucket, key, matchETag string, r io.Reader, size int64, contentType string) (ObjectInfo, error) {
	if err := checkObject(bucket, key); err != nil {
		return ObjectInfo{}, err
	}
	if size < -1 {
		return ObjectInfo{}, apperr.Field("size", "size must be -1 (unknown) or at least 0")
	}
	if contentType == "" {
		contentType = defaultContentType
	} else if _, _, err := mime.ParseMediaType(contentType); err != nil {
		return ObjectInfo{}, apperr.Field("content_type", "content type is not a valid media type")
	}
	opts := minio.PutObjectOptions{ContentType: contentType}
	if size < 0 {
		opts.PartSize = streamPartSize
	}
	if matchETag != "" {
		opts.SetMatchETag(matchETag)
		opts.DisableMultipart = true // see Replace
	}
	src := &uploadSource{r: r}
	if _, err := m.client.PutObject(ctx, m.bucketName(bucket), key, src, size, opts); err != nil {
		if failure := src.failure(size); failure != nil {
			return ObjectInfo{}, failure
		}
		if matchETag != "" && apperr.Is(translate(err), apperr.Conflict) {
			return ObjectInfo{}, apperr.Wrap(err, apperr.Conflict, "the object was replaced meanwhile")
		}
		return ObjectInfo{}, translate(err)
	}
	// The upload response lacks the modification time and, for multipart uploads, the final
	// size; one HEAD returns exactly what Stat will report later.
	return m.stat(ctx, bucket, key)
}

// Stat implements Store.
func (m *MinIO) Stat(ctx context.Context, bucket Bucket, key string) (_ ObjectInfo, err error) {
	defer apperr.Wrapf(&err, "media: stat %s/%s", bucket, key)
	if err := checkObject(bucket, key); err != nil {
		return ObjectInfo{}, err
	}
	return m.stat(ctx, bucket, key)
}

func (m *MinIO) stat(ctx context.Context, bucket Bucket, key string) (ObjectInfo, error) {
	oi, err := m.client.StatObject(ctx, m.bucketName(bucket), key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, translate(err)
	}
	return ObjectInfo{
		Bucket:       bucket,
		Key:          key,
		Size:         oi.Size,
		ContentType:  oi.ContentType,
		ETag:         oi.ETag,
		LastModified: oi.LastModified.UTC(),
	}, nil
}

// Open implements Store.
func (m *MinIO) Open(ctx context.Context, bucket Bucket, key string, offset, length int64) (_ io.ReadCloser, err error) {
	defer apperr.Wrapf(&err, "media: open %s/%s at %d+%d", bucket, key, offset, length)
	if err := checkObject(bucket, key); err != nil {
		return nil, err
	}
	switch {
	case offset < 0:
		return nil, apperr.Field("offset", "offset must not be negative")
	case length < -1:
		return nil, apperr.Field("length", "length must be -1 (to the end) or at least 0")
	case length > 0 && offset > math.MaxInt64-length:
		return nil, errOutsideObject()
	case length == 0:
		// HTTP cannot express an empty range; check the object instead of reading it.
		info, err := m.stat(ctx, bucket, key)
		if err != nil {
			return nil, err
		}
		if offset > info.Size {
			return nil, errOutsideObject()
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	body, n, err := m.getRange(ctx, bucket, key, offset, length, "")
	if err != nil {
		return nil, err
	}
	if length > 0 && n < length {
		// S3 silently shortens a range that runs past the end; Open promises the whole range.
		body.Close()
		return nil, errOutsideObject()
	}
	return translatingBody{body}, nil
}

// getRange starts a GET of length bytes at offset (length -1: to the end), only if the object
// still has etag when etag is set, and returns the body and its length.
func (m *MinIO) getRange(ctx context.Context, bucket Bucket, key string, offset, length int64, etag string) (io.ReadCloser, int64, error) {
	var opts minio.GetObjectOptions
	var err error
	switch {
	case length > 0:
		err = opts.SetRange(offset, offset+length-1)
	case offset > 0:
		err = opts.SetRange(offset, 0)
	}
	if err == nil && etag != "" {
		err = opts.SetMatchETag(etag)
	}
	if err != nil {
		return nil, 0, err
	}
	body, oi, _, err := m.core.GetObject(ctx, m.bucketName(bucket), key, opts)
	if err != nil {
		return nil, 0, translate(err)
	}
	return body, oi.Size, nil
}

func errOutsideObject() error {
	return apperr.New(apperr.Invalid, "the requested range is outside the object")
}

// Delete implements Store.
func (m *MinIO) Delete(ctx context.Context, bucket Bucket, key string) (err error) {
	defer apperr.Wrapf(&err, "media: delete %s/%s", bucket, key)
	if err := checkObject(bucket, key); err != nil {
		return err
	}
	return translate(m.client.RemoveObject(ctx, m.bucketName(bucket), key, minio.RemoveObjectOptions{}))
}

// DeleteFolder removes every object whose key lies below folder (folder + "/" + anything):
// the outputs of one transcode, say, when not all of their keys were recorded. folder is
// checked as a key is, so an empty or malformed one, which could reach beyond its prefix,
// returns invalid. Deleting an empty folder succeeds. Objects stored below folder while it
// runs may be left: callers delete a folder nothing writes to any more.
func (m *MinIO) DeleteFolder(ctx context.Context, bucket Bucket, folder string) (err error) {
	defer apperr.Wrapf(&err, "media: delete %s/%s/", bucket, folder)
	if err := checkObject(bucket, folder); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	name := m.bucketName(bucket)
	keys, listed := make(chan minio.ObjectInfo), make(chan error, 1)
	go func() { // lists what RemoveObjects deletes, in batches of up to 1,000 keys
		defer close(keys)
		for o := range m.client.ListObjects(ctx, name, minio.ListObjectsOptions{Prefix: folder + "/", Recursive: true}) {
			if o.Err != nil {
				listed <- o.Err
				return
			}
			select {
			case keys <- o:
			case <-ctx.Done():
				listed <- ctx.Err()
				return
			}
		}
		listed <- nil
	}()
	var removeErr error
	for r := range m.client.RemoveObjects(ctx, name, keys, minio.RemoveObjectsOptions{}) {
		if r.Err != nil && removeErr == nil {
			removeErr = r.Err
			cancel() // the listing stops too
		}
	}
	cancel() // in case RemoveObjects stopped reading early
	listErr := <-listed
	if removeErr != nil {
		return translate(removeErr)
	}
	return translate(listErr)
}
