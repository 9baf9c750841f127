package feedback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/media"
	datasync "github.com/mportal/mportal/sync"
)

// UploadPurpose is the tus upload purpose of attachment photos.
const UploadPurpose = "feedback_attachment"

// octetStream is how HEIC photos are uploaded: the upload service checks the declared type
// against http.DetectContentType, which does not know HEIC, so the app declares
// application/octet-stream and Complete checks the HEIC brand itself.
const octetStream = "application/octet-stream"

// heicBrands are the ISO-BMFF "ftyp" brands of HEIC photos, at byte 4 of the file.
var heicBrands = [][]byte{[]byte("ftypheic"), []byte("ftypmif1"), []byte("ftypheix"), []byte("ftyphevc")}

// Purpose returns the upload purpose that receives attachment photos: metadata attachment_id
// names a pending attachment record of the uploader, and the finished upload completes it.
func (s *Service) Purpose() upload.Purpose {
	return upload.Purpose{
		Name:         UploadPurpose,
		MaxSize:      MaxAttachmentSize,
		ContentTypes: append(append([]string{}, AttachmentTypes...), octetStream),
		Authorize:    s.AuthorizeUpload,
		Complete:     s.CompleteUpload,
		Reject:       s.RejectUpload,
	}
}

// AuthorizeUpload checks that meta's attachment_id is a pending attachment of p's and that the
// declared filetype fits it: not_found for anyone else's or an unknown id, conflict for an
// attachment that is not pending, invalid for a mismatched type.
func (s *Service) AuthorizeUpload(ctx context.Context, p *auth.Principal, meta map[string]string) error {
	a, err := s.ownAttachment(ctx, p.UserID, meta["attachment_id"])
	if err != nil {
		return err
	}
	if a.Status != AttachmentPending {
		return apperr.New(apperr.Conflict, "attachment %s is %s, not pending", a.ID, a.Status)
	}
	if ft := meta["filetype"]; ft != a.ContentType && (a.ContentType != "image/heic" || ft != octetStream) {
		return apperr.Field("filetype", "the attachment was declared as %s", a.ContentType)
	}
	return nil
}

func (s *Service) ownAttachment(ctx context.Context, userID, id string) (*attachmentDoc, error) {
	if checkID("attachment_id", id) != nil {
		return nil, apperr.Field("Upload-Metadata", "attachment_id names no attachment")
	}
	var a attachmentDoc
	if err := s.findByID(ctx, attachmentsColl, id, "attachment", &a); err != nil {
		return nil, err
	}
	if a.AuthorID != userID || a.Deleted {
		return nil, apperr.New(apperr.NotFound, "attachment not found")
	}
	return &a, nil
}

// CompleteUpload links a finished upload to its attachment and marks it complete, or failed with
// the reason when the bytes are not the declared photo type or not the declared size (invalid or
// unsupported_media_type is returned then, and the object deleted). Before marking it complete
// it removes the photo's location metadata from the object (stripLocation), so that no one who
// may download it (the feedback's testers among them) reads where it was taken. Only those
// client faults fail the attachment, with our own words: when the photo cannot be read back or
// rewritten (MinIO down, the network, the storage's refusal, a cancelled context) it is
// unavailable, never invalid, so the attachment stays pending and the upload service completes
// it again later. It is idempotent: a second call for a completed or failed attachment changes
// nothing, and one after a crash between the rewrite and the marking finds nothing left to
// remove.
//
// An upload with nowhere to go is refused (invalid), so that the upload service deletes its
// object rather than trying it again forever: its attachment was deleted during the upload, or
// another upload of it settled it first.
func (s *Service) CompleteUpload(ctx context.Context, p *auth.Principal, in upload.Info) error {
	a, err := s.ownAttachment(ctx, in.UserID, in.Meta["attachment_id"])
	if apperr.Is(err, apperr.NotFound) {
		return apperr.Field("attachment_id", "the attachment was deleted during the upload")
	}
	if err != nil {
		return err
	}
	if a.Status != AttachmentPending {
		if a.Status == AttachmentComplete && a.ObjectKey == in.Key {
			return nil // this upload, completed before
		}
		return apperr.Field("attachment_id", "attachment %s is already %s: this upload is not used", a.ID, a.Status)
	}
	failure, err := s.checkPhoto(ctx, a.ContentType, in)
	if err != nil {
		// Whatever the storage said (even "invalid": a range outside the object), the bytes
		// the client sent are not at fault; the upload service must not refuse them for good.
		return apperr.Wrap(err, apperr.Unavailable, "the photo could not be read back from storage; it is checked again later")
	}
	refusal := apperr.New(apperr.UnsupportedMedia, "%s", failure)
	if failure == "" && in.Size != a.Size {
		failure = fmt.Sprintf("the upload has %d bytes but the attachment declared %d", in.Size, a.Size)
		refusal = apperr.Field("Upload-Length", "%s", failure)
	}
	if failure == "" {
		if err := s.stripLocation(ctx, a.ID, in); err != nil {
			return err
		}
		err := s.settleAttachment(ctx, a, AttachmentComplete, bson.D{{Key: "bucket", Value: string(in.Bucket)},
			{Key: "object_key", Value: in.Key}, {Key: "size", Value: in.Size}})
		if err == errSettled {
			return apperr.Field("attachment_id", "attachment %s was deleted or settled by another upload meanwhile: this upload is not used", a.ID)
		}
		if err == nil {
			// Recorded so that StripStoredPhotos need not read the photo again; when this
			// fails, it reads it once more and finds nothing to blank.
			if merr := s.markStripped(ctx, a.ID); merr != nil {
				s.log().Warn("record a stripped photo", "attachment_id", a.ID, "error", merr.Error())
			}
		}
		return err
	}
	if derr := s.Store.Delete(ctx, in.Bucket, in.Key); derr != nil {
		s.log().Warn("delete rejected attachment object", "attachment_id", a.ID, "error", derr.Error())
	}
	if err := s.settleAttachment(ctx, a, AttachmentFailed, bson.D{{Key: "failure", Value: failure}}); err != nil && err != errSettled {
		return err
	}
	return refusal
}

// RejectUpload marks the attachment of an upload that failed the upload service's type check
// failed, with the reason. An attachment that is gone or no longer pending is left alone.
func (s *Service) RejectUpload(ctx context.Context, _ *auth.Principal, in upload.Info, reason string) error {
	a, err := s.ownAttachment(ctx, in.UserID, in.Meta["attachment_id"])
	switch {
	case apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Invalid):
		return nil
	case err != nil:
		return err
	case a.Status != AttachmentPending:
		return nil
	}
	if err := s.settleAttachment(ctx, a, AttachmentFailed, bson.D{{Key: "failure", Value: reason}}); err != errSettled {
		return err
	}
	return nil
}

// sameFields reports whether a settled attachment holds fields (its object or its failure):
// whether the settling write that set them is the one running again.
func sameFields(a *attachmentDoc, fields bson.D) bool {
	for _, f := range fields {
		var v any
		switch f.Key {
		case "object_key":
			v = a.ObjectKey
		case "failure":
			v = a.Failure
		default:
			continue
		}
		if v != f.Value {
			return false
		}
	}
	return true
}

// errSettled is settleAttachment's answer for an attachment that is no longer pending (another
// upload settled it, or it was deleted) when it comes to write.
var errSettled = errors.New("the attachment is no longer pending")

// settleAttachment sets a pending attachment's final status and fields, and lets its feedback's
// audience pull it. The write is filtered on the attachment being still pending and live: two
// uploads of one attachment, or an upload and the attachment's deletion, read it pending before
// either wrote; the second writer gets errSettled instead of overwriting the first (linking a
// photo to a deleted attachment, or replacing a completed one).
func (s *Service) settleAttachment(ctx context.Context, a *attachmentDoc, status string, fields bson.D) error {
	settled := false
	err := s.Sync.Write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		unlock := s.DB.Lock(childLockKey(attachmentsColl, a.ID))
		defer unlock()
		set := append(bson.D{{Key: "status", Value: status}, {Key: "_updated_at", Value: s.Now.Stored()}}, fields...)
		// This write's own result matches too: the engine runs fn again when it outlives
		// its lease.
		own := append(bson.D{{Key: "status", Value: status}}, fields...)
		filter := s.byID(a.ID, bson.E{Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}},
			bson.E{Key: "$or", Value: bson.A{bson.D{{Key: "status", Value: AttachmentPending}}, own}})
		if s.DB.FerretDB { // byID sent {_id} alone: check the conditions here, under the lock
			var cur attachmentDoc
			if err := s.findByID(ctx, attachmentsColl, a.ID, "attachment", &cur); err != nil {
				return nil, err
			}
			if cur.Deleted || cur.Status != AttachmentPending && !(cur.Status == status && sameFields(&cur, fields)) {
				settled = true
				return nil, nil
			}
		}
		r, err := s.coll(attachmentsColl).UpdateOne(ctx, filter, bson.D{
			{Key: "$set", Value: set}, {Key: "$max", Value: bson.D{{Key: "_seq", Value: seq}}},
		})
		if err != nil {
			return nil, fmt.Errorf("settle attachment %s: %w", a.ID, mongodb.Translate(err, "attachment"))
		}
		if settled = r.MatchedCount == 0; settled {
			return nil, nil
		}
		return []datasync.Touch{named(attachmentsColl, a.Keys, a.ID)}, nil
	})
	if err == nil && settled {
		return errSettled
	}
	return err
}

// checkPhoto checks the uploaded bytes are the attachment's declared type: the upload service
// sniffed JPEG and PNG already; HEIC is recognised by its ftyp brand. It returns why they are
// not, or an error when they could not be read.
func (s *Service) checkPhoto(ctx context.Context, declared string, in upload.Info) (string, error) {
	if declared != "image/heic" {
		if in.ContentType != declared {
			return fmt.Sprintf("the photo is %s, not the declared %s", in.ContentType, declared), nil
		}
		return "", nil
	}
	r, err := s.Store.Open(ctx, in.Bucket, in.Key, 0, min(in.Size, 12))
	if err != nil {
		return "", err
	}
	defer r.Close()
	head, err := io.ReadAll(io.LimitReader(r, 12))
	if err != nil {
		return "", err
	}
	if len(head) == 12 {
		for _, brand := range heicBrands {
			if bytes.Equal(head[4:12], brand) {
				return "", nil
			}
		}
	}
	return "the photo is not a HEIC image", nil
}

// AttachmentURL returns a presigned download URL (valid media.DefaultPresignExpiry) of a
// complete attachment for anyone who may see its feedback; not_found otherwise, and for a
// pending or failed attachment.
func (s *Service) AttachmentURL(ctx context.Context, p *auth.Principal, id string) (*url.URL, time.Time, error) {
	var a attachmentDoc
	if checkID("attachment_id", id) != nil {
		return nil, time.Time{}, apperr.New(apperr.NotFound, "attachment not found")
	}
	if err := s.findByID(ctx, attachmentsColl, id, "attachment", &a); err != nil {
		return nil, time.Time{}, err
	}
	if _, err := s.visibleFeedback(ctx, p, a.FeedbackID); err != nil || a.Deleted {
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return nil, time.Time{}, err
		}
		return nil, time.Time{}, apperr.New(apperr.NotFound, "attachment not found")
	}
	if a.Status != AttachmentComplete {
		return nil, time.Time{}, apperr.New(apperr.NotFound, "attachment %s has no content yet (status %s)", id, a.Status)
	}
	expiry := media.ClampExpiry(media.DefaultPresignExpiry)
	name := a.Filename
	if media.CheckDownloadName("filename", name) != nil {
		name = a.ID + photoExt(a.ContentType) // accepted before the name was checked as one
	}
	u, err := s.Store.PresignGet(ctx, media.Bucket(a.Bucket), a.ObjectKey, expiry, name)
	if err != nil {
		return nil, time.Time{}, err
	}
	return u, s.Now.Stored().Add(expiry), nil
}

// photoExt is the file extension of an attachment's content type.
func photoExt(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/heic":
		return ".heic"
	}
	return ""
}

// deletePhoto deletes an attachment's photo and, for one that came through tus (the object is
// the upload itself, nothing is copied), tusd's .info beside it: it holds the file name, the
// user and the attachment id, and nothing referred to it once the upload's record was purged.
// A failure is logged: the attachment's record is gone either way.
func (s *Service) deletePhoto(ctx context.Context, attachmentID, bucket, key string) {
	if key == "" || s.Store == nil {
		return
	}
	keys := []string{key}
	if strings.HasPrefix(key, upload.ObjectPrefix+"/") {
		keys = append(keys, key+".info")
	}
	for _, k := range keys {
		if err := s.Store.Delete(ctx, media.Bucket(bucket), k); err != nil {
			s.log().Warn("delete attachment object", "attachment_id", attachmentID, "key", k, "error", err.Error())
		}
	}
}
