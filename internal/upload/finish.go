package upload

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/media"
)

// sniffLen is how much of an object http.DetectContentType looks at.
const sniffLen = 512

// finish checks a finished upload's content and hands it to its purpose. A wrong type, or
// content the purpose refuses, deletes the upload (object, parts and tusd's .info) and returns
// why (unsupported_media_type or invalid); any other failure leaves the upload "finished" for
// the cleanup worker to retry.
func (s *Service) finish(ctx context.Context, p *auth.Principal, fi tusd.FileInfo) (err error) {
	defer apperr.Wrapf(&err, "finish upload %s", fi.ID)
	objectID := objectIDOf(fi.ID)
	purpose, ok := s.purpose(fi.MetaData[metaPurpose])
	if !ok {
		return fmt.Errorf("purpose %q is not registered", fi.MetaData[metaPurpose])
	}
	// From here on the bytes are all in: any failure leaves the upload "finished", which the
	// cleanup worker retries at its next run whatever the upload's age.
	if err := s.records.setStatus(ctx, objectID, statusFinished, s.now.Stored()); err != nil {
		return err
	}
	key := ObjectPrefix + "/" + objectID
	sniffed, err := s.sniff(ctx, key, fi.Size)
	if err != nil {
		return err
	}
	info := Info{
		ID: fi.ID, Purpose: purpose.Name, UserID: fi.MetaData[metaUserID], ContentType: sniffed,
		Filename: fi.MetaData[metaFilename], Size: fi.Size, Bucket: media.Uploads, Key: key,
		Meta: map[string]string(fi.MetaData),
	}
	if !slices.Contains(purpose.ContentTypes, sniffed) || sniffed != fi.MetaData[metaFiletype] {
		refusal := apperr.New(apperr.UnsupportedMedia, "the file's content is %s, but a %s upload declared as %s must be one of: %v",
			sniffed, purpose.Name, fi.MetaData[metaFiletype], purpose.ContentTypes)
		if purpose.Reject != nil {
			if err := purpose.Reject(ctx, p, info, refusal.Message); err != nil {
				return err
			}
		}
		return s.refuse(ctx, fi.ID, refusal)
	}
	if err := purpose.Complete(ctx, p, info); err != nil {
		if refused(err) {
			return s.refuse(ctx, fi.ID, err)
		}
		return err
	}
	return s.records.setStatus(ctx, objectID, statusCompleted, s.now.Stored())
}

// refused reports whether err refuses an upload's content for good: trying again cannot help.
func refused(err error) bool {
	code := apperr.CodeOf(err)
	return code == apperr.UnsupportedMedia || code == apperr.Invalid
}

// refuse deletes a refused upload, records it rejected and returns why.
func (s *Service) refuse(ctx context.Context, id string, why error) error {
	if err := s.terminate(ctx, id); err != nil {
		return err
	}
	if err := s.records.setStatus(ctx, objectIDOf(id), statusRejected, s.now.Stored()); err != nil {
		return err
	}
	return why
}

// sniff reads the first bytes of the object and returns their media type without parameters.
func (s *Service) sniff(ctx context.Context, key string, size int64) (string, error) {
	r, err := s.cfg.Store.Open(ctx, media.Uploads, key, 0, min(size, sniffLen))
	if err != nil {
		return "", err
	}
	defer r.Close()
	head, err := io.ReadAll(io.LimitReader(r, sniffLen))
	if err != nil {
		return "", err
	}
	t, err := normalizeType(http.DetectContentType(head))
	if err != nil {
		return "", fmt.Errorf("sniffed type: %w", err)
	}
	return t, nil
}

// terminate deletes an upload through tusd's store: it aborts the S3 multipart upload (if it
// is still open) and deletes the object, the incomplete part and the .info file.
func (s *Service) terminate(ctx context.Context, id string) error {
	up, err := s.store.GetUpload(ctx, id)
	if err != nil {
		return fmt.Errorf("terminate %s: %w", id, err)
	}
	if err := s.store.AsTerminatableUpload(up).Terminate(ctx); err != nil {
		return fmt.Errorf("terminate %s: %w", id, err)
	}
	return nil
}

// finishOnHeadTimeout bounds the finish a HEAD runs (finishIfAllIn), under the HTTP write timeout.
const finishOnHeadTimeout = 20 * time.Second

// finishIfAllIn finishes upload id, as the cleanup worker would, when all its bytes are in but
// it was not completed: the PATCH carrying the last byte failed to finish it (the database or
// the purpose's Complete unavailable) after the bytes were stored. A client that asks HEAD after
// that failed PATCH reads Upload-Offset equal to Upload-Length, takes the upload as done, and
// never sends another PATCH; before, the upload then waited for the hourly worker, and its
// attachment or video showed nothing until then. HEAD now finishes it first, and answers the
// failure (503 with Retry-After while a dependency is down) until it succeeds; a refused upload
// is deleted, so HEAD answers 404.
func (s *Service) finishIfAllIn(ctx context.Context, id string) error {
	rec, err := s.records.get(ctx, objectIDOf(id))
	if err != nil {
		return err
	}
	if rec.Status != statusUploading && rec.Status != statusFinished {
		return nil // completed, rejected or abandoned: nothing to do
	}
	if rec.Status == statusUploading {
		up, err := s.store.GetUpload(ctx, id)
		if err != nil {
			return apperr.Wrap(err, apperr.Unavailable, "the upload's state could not be read; try again")
		}
		fi, err := up.GetInfo(ctx)
		if err != nil {
			return apperr.Wrap(err, apperr.Unavailable, "the upload's state could not be read; try again")
		}
		if fi.SizeIsDeferred || fi.Offset < fi.Size {
			return nil // still arriving
		}
	}
	if _, err := s.settle(ctx, rec); err != nil && !refused(err) {
		return apperr.Wrap(err, apperr.Unavailable, "the upload is complete but could not be finished yet; try again")
	}
	return nil
}
