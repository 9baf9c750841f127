package feedback

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/photometa"
	"github.com/mportal/mportal/internal/upload"
)

// stripMessage is what CompleteUpload answers when the location could not be removed: the
// attachment stays pending and the upload service completes it again later.
const stripMessage = "the photo's location could not be removed in storage yet; it is tried again later"

// stripLocation removes the location metadata (EXIF GPS, XMP GPS: see internal/photometa) from
// an uploaded photo, in the object itself, before its attachment is marked complete: nobody can
// download a photo before that, so nobody ever gets one with its location. The feedback's own
// location fields, which only the author and ops see, are untouched.
//
// The photo is read whole (at most MaxAttachmentSize: CompleteUpload has checked the upload
// has the attachment's declared size) and written back only when something was blanked: under
// the same key, with the same size (photometa never changes a length), so the upload's
// records stay right and an S3 PUT replaces the object at once. Run again after a crash, the
// second pass finds nothing to blank and writes nothing. The rewrite drops the S3 user metadata
// tusd set on the object (the upload's metadata, kept in tusd's .info beside it, which is what
// tusd reads) and keeps its content type.
//
// Any storage failure is unavailable, never invalid: the bytes are fine, the attachment stays
// pending, and the upload service completes it again.
func (s *Service) stripLocation(ctx context.Context, attachmentID string, in upload.Info) error {
	release, err := s.photos.acquire(ctx)
	if err != nil {
		return apperr.Wrap(err, apperr.Unavailable, stripMessage)
	}
	defer release()
	r, err := s.Store.Open(ctx, in.Bucket, in.Key, 0, in.Size)
	if err != nil {
		return apperr.Wrap(err, apperr.Unavailable, stripMessage)
	}
	photo := make([]byte, in.Size)
	_, err = io.ReadFull(r, photo)
	r.Close()
	if err != nil {
		return apperr.Wrap(err, apperr.Unavailable, stripMessage)
	}
	report := photometa.Strip(photo)
	if !report.Changed() {
		return nil
	}
	if _, err := s.Store.Put(ctx, in.Bucket, in.Key, bytes.NewReader(photo), in.Size, in.Meta["filetype"]); err != nil {
		return apperr.Wrap(err, apperr.Unavailable, stripMessage)
	}
	s.log().Info("removed location metadata from a photo", "attachment_id", attachmentID, "format", report.Format,
		"blanked", report.Blanked, "dropped", report.Dropped)
	return nil
}

// photoSlots is how many photos stripLocation holds in memory at once: 4 × 20 MiB at most,
// however many uploads finish together.
const photoSlots = 4

// photoGate bounds the photos held in memory; its zero value is ready to use.
type photoGate struct {
	once  sync.Once
	slots chan struct{}
}

// acquire waits for a slot, or for ctx to end; the caller calls release when done.
func (g *photoGate) acquire(ctx context.Context) (release func(), err error) {
	g.once.Do(func() { g.slots = make(chan struct{}, photoSlots) })
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
