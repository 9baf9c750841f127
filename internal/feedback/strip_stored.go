package feedback

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/photometa"
	"github.com/mportal/mportal/media"
)

// strippedColl names the attachments whose stored photo is known to carry no location: one
// document per attachment, its _id the attachment's, inserted once (mongodb.Claim) by
// CompleteUpload after stripLocation, or by StripStoredPhotos.
const strippedColl = "feedback_photos_stripped"

// StripReport is what a pass of StripStoredPhotos did.
type StripReport struct {
	// Checked photos were read and now carry no location; Rewritten of them had one.
	Checked, Rewritten int
	// Skipped photos were deleted or replaced while they were being read; a replaced one is
	// checked again by the next pass.
	Skipped int
}

// StripStoredPhotos removes the location from the photos of complete attachments that were
// stored before CompleteUpload removed it (see stripLocation), and from any whose removal was
// not recorded: each photo not named in strippedColl is read, its location blanked in place
// (photometa.Strip) and written back only when something was blanked, then recorded. It is run
// hourly by every instance; a photo done is never read again, so a pass after the first reads
// two collections and nothing else.
//
// A photo is written back with Replace, conditional on the ETag read: a photo deleted meanwhile
// (its feedback deleted) is not brought back, and one replaced meanwhile is left to the next
// pass. Two instances checking the same photo write the same bytes. A storage or database failure
// ends the pass with an error (unavailable); what was done stays recorded. Records of attachments
// that are no longer complete (deleted, purged) are deleted.
func (s *Service) StripStoredPhotos(ctx context.Context) (r StripReport, err error) {
	defer apperr.Wrapf(&err, "strip the location from stored photos")
	// The markers first: a photo completed between the two reads is then at worst checked once
	// more, never skipped.
	done, err := s.strippedIDs(ctx)
	if err != nil {
		return r, err
	}
	cur, err := s.coll(attachmentsColl).Find(ctx,
		bson.D{{Key: "status", Value: AttachmentComplete}, {Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "bucket", Value: 1}, {Key: "object_key", Value: 1}}))
	if err != nil {
		return r, mongodb.Translate(err, "attachment")
	}
	var complete []attachmentDoc
	if err := cur.All(ctx, &complete); err != nil {
		return r, mongodb.Translate(err, "attachment")
	}
	var todo []attachmentDoc
	for _, a := range complete {
		if _, ok := done[a.ID]; ok {
			delete(done, a.ID)
		} else if a.ObjectKey != "" {
			todo = append(todo, a)
		}
	}
	if err := s.deleteMarkers(ctx, done); err != nil {
		return r, err
	}
	// Every instance runs the pass: each takes the photos in its own order and, every
	// stripRecheck photos, skips those another has recorded meanwhile.
	rand.Shuffle(len(todo), func(i, j int) { todo[i], todo[j] = todo[j], todo[i] })
	for i, a := range todo {
		if i > 0 && i%stripRecheck == 0 {
			if done, err = s.strippedIDs(ctx); err != nil {
				return r, err
			}
		}
		if _, ok := done[a.ID]; ok {
			continue
		}
		rewritten, err := s.stripStored(ctx, a)
		switch {
		case apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Conflict):
			r.Skipped++
			continue
		case err != nil:
			return r, err
		}
		r.Checked++
		if rewritten {
			r.Rewritten++
			s.log().Info("removed location metadata from a stored photo", "attachment_id", a.ID)
		}
		if err := s.markStripped(ctx, a.ID); err != nil {
			return r, err
		}
	}
	return r, nil
}

// stripRecheck is how many photos a pass of StripStoredPhotos checks before it reads again
// which ones other instances have done; tests lower it.
var stripRecheck = 64

// stripStored blanks the location in attachment a's photo and reports whether it wrote it back.
func (s *Service) stripStored(ctx context.Context, a attachmentDoc) (bool, error) {
	release, err := s.photos.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	bucket := media.Bucket(a.Bucket)
	info, err := s.Store.Stat(ctx, bucket, a.ObjectKey)
	if err != nil {
		return false, err
	}
	if info.Size > MaxAttachmentSize { // never stored by CompleteUpload: not read into memory
		return false, apperr.New(apperr.Conflict, "attachment %s's object has %d bytes", a.ID, info.Size)
	}
	rc, err := s.Store.Open(ctx, bucket, a.ObjectKey, 0, info.Size)
	if err != nil {
		return false, err
	}
	photo := make([]byte, info.Size)
	_, err = io.ReadFull(rc, photo)
	rc.Close()
	if err != nil {
		return false, apperr.Wrap(err, apperr.Unavailable, "the photo could not be read from storage")
	}
	if !photometa.Strip(photo).Changed() {
		return false, nil
	}
	if _, err := s.Store.Replace(ctx, bucket, a.ObjectKey, info.ETag, bytes.NewReader(photo), info.Size, info.ContentType); err != nil {
		return false, err
	}
	return true, nil
}

// markStripped records that attachment id's stored photo carries no location.
func (s *Service) markStripped(ctx context.Context, id string) error {
	if _, err := mongodb.Claim(ctx, s.coll(strippedColl), id, nil); err != nil {
		return fmt.Errorf("record attachment %s's photo as stripped: %w", id, err)
	}
	return nil
}

// strippedIDs reads the ids strippedColl records.
func (s *Service) strippedIDs(ctx context.Context) (map[string]struct{}, error) {
	cur, err := s.coll(strippedColl).Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, mongodb.Translate(err, "stripped photo")
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, mongodb.Translate(err, "stripped photo")
	}
	ids := make(map[string]struct{}, len(docs))
	for _, d := range docs {
		ids[d.ID] = struct{}{}
	}
	return ids, nil
}

// deleteMarkers deletes the markers of ids, a thousand at a time.
func (s *Service) deleteMarkers(ctx context.Context, ids map[string]struct{}) error {
	batch := make([]string, 0, min(len(ids), 1000))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := s.coll(strippedColl).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: batch}}}})
		batch = batch[:0]
		return mongodb.Translate(err, "stripped photo")
	}
	for id := range ids {
		if batch = append(batch, id); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
