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
	// Skipped photos were deleted before they were read or written back (recorded: a photo
	// that is gone carries no location), or replaced meanwhile (checked by the next pass).
	Skipped int
	// Failed photos could not be checked for a reason of their own (logged with the
	// attachment's id); the next pass tries them again.
	Failed int
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
// pass. Of two instances checking the same photo, the second to write is refused and skips it.
// The pass ends with an error when the storage or the database is unavailable; what was done
// stays recorded. A photo that fails for a reason of its own is logged and counted, and the pass
// goes on. Records of attachments that are no longer complete (deleted, purged) are deleted.
func (s *Service) StripStoredPhotos(ctx context.Context) (r StripReport, err error) {
	defer apperr.Wrapf(&err, "strip the location from stored photos")
	// The records first: a photo completed between the two reads is then at worst checked once
	// more, and a record read here belongs to an attachment completed before the second read.
	done, err := s.strippedIDs(ctx, nil)
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
	// Every instance runs the pass: each takes the photos in its own order and, before each
	// stripRecheck of them, reads which of those another instance has recorded meanwhile.
	rand.Shuffle(len(todo), func(i, j int) { todo[i], todo[j] = todo[j], todo[i] })
	for len(todo) > 0 {
		batch := todo[:min(stripRecheck, len(todo))]
		todo = todo[len(batch):]
		ids := make([]string, len(batch))
		for i, a := range batch {
			ids[i] = a.ID
		}
		if done, err = s.strippedIDs(ctx, ids); err != nil {
			return r, err
		}
		for _, a := range batch {
			if _, ok := done[a.ID]; !ok {
				if err := s.stripOneStored(ctx, a, &r); err != nil {
					return r, err
				}
			}
		}
	}
	return r, nil
}

// stripRecheck is how many photos a pass of StripStoredPhotos checks between two reads of which
// ones other instances have done; tests lower it.
var stripRecheck = 64

// stripOneStored checks attachment a's photo for StripStoredPhotos and counts the outcome in r.
// It returns an error only when the pass must stop: the storage or the database is unavailable,
// or ctx ended.
func (s *Service) stripOneStored(ctx context.Context, a attachmentDoc, r *StripReport) error {
	rewritten, err := s.stripStored(ctx, a)
	switch {
	case err == nil:
		r.Checked++
		if rewritten {
			r.Rewritten++
			s.log().Info("removed location metadata from a stored photo", "attachment_id", a.ID)
		}
	case apperr.Is(err, apperr.NotFound): // gone: nothing left to strip
		r.Skipped++
	case apperr.Is(err, apperr.Conflict): // replaced meanwhile: the next pass reads it
		r.Skipped++
		return nil
	case ctx.Err() != nil || apperr.Is(err, apperr.Unavailable):
		return err
	default:
		r.Failed++
		s.log().Warn("a stored photo's location could not be checked", "attachment_id", a.ID, "error", err.Error())
		return nil
	}
	return s.markStripped(ctx, a.ID)
}

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
	if info.Size > MaxAttachmentSize { // never completed by CompleteUpload: not read into memory
		return false, fmt.Errorf("attachment %s's object has %d bytes, more than an attachment may have", a.ID, info.Size)
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

// strippedIDs reads which of ids strippedColl records, or all it records when ids is nil.
func (s *Service) strippedIDs(ctx context.Context, ids []string) (map[string]struct{}, error) {
	filter := bson.D{}
	if ids != nil {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
	}
	cur, err := s.coll(strippedColl).Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, mongodb.Translate(err, "stripped photo")
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, mongodb.Translate(err, "stripped photo")
	}
	found := make(map[string]struct{}, len(docs))
	for _, d := range docs {
		found[d.ID] = struct{}{}
	}
	return found, nil
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
