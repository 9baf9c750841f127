package media

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mportal/mportal/internal/apperr"
)

// ReaderAt implements Store. It costs one HEAD; each ReadAt then fetches exactly the bytes
// it is asked for, so inspecting a 200 MB APK's manifest moves kilobytes, not the file.
func (m *MinIO) ReaderAt(ctx context.Context, bucket Bucket, key string) (_ io.ReaderAt, _ int64, err error) {
	defer apperr.Wrapf(&err, "media: reader %s/%s", bucket, key)
	if err := checkObject(bucket, key); err != nil {
		return nil, 0, err
	}
	info, err := m.stat(ctx, bucket, key)
	if err != nil {
		return nil, 0, err
	}
	return &objectReaderAt{ctx: ctx, m: m, info: info}, info.Size, nil
}

// objectReaderAt reads one version of an object with ranged GETs. It keeps ctx because
// io.ReaderAt has no context parameter; callers scope it to the operation that opened it.
// Every GET is conditional on the ETag seen by ReaderAt: a parser that read the central
// directory of one upload must not read entries from its replacement. It holds no mutable
// state, so concurrent ReadAt calls are safe, as io.ReaderAt requires.
type objectReaderAt struct {
	ctx  context.Context
	m    *MinIO
	info ObjectInfo
}

// ReadAt implements io.ReaderAt: it fills p from off, returning io.EOF (bare, as callers such
// as archive/zip compare it) when p runs past the end of the object.
func (r *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, apperr.Field("offset", "offset must not be negative")
	}
	if off >= r.info.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	want := min(int64(len(p)), r.info.Size-off)
	body, _, err := r.m.getRange(r.ctx, r.info.Bucket, r.info.Key, off, want, r.info.ETag)
	if err != nil {
		return 0, fmt.Errorf("media: read %s/%s at %d: %w", r.info.Bucket, r.info.Key, off, err)
	}
	defer body.Close()
	n, err := io.ReadFull(body, p[:want])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// The ETag matched, so the object is as long as Stat said: the stream was cut.
			err = apperr.Wrap(err, apperr.Unavailable, "object storage closed the download early")
		}
		return n, fmt.Errorf("media: read %s/%s at %d: %w", r.info.Bucket, r.info.Key, off, translate(err))
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}
