package training

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/upload"
)

// UploadPurpose is the tus upload purpose of training videos; metadata video_id names the
// video the file is (or replaces) the content of.
const UploadPurpose = "training_video"

// MaxUploadSize is the largest training video file: 2 GiB.
const MaxUploadSize = 2 << 30

// UploadTypes are the declared and sniffed types accepted. http.DetectContentType recognises
// MP4, WebM/Matroska and AVI; QuickTime files (iPhone .mov) sniff as application/octet-stream,
// so that is accepted too and ffprobe is the real check.
var UploadTypes = []string{"video/mp4", "video/webm", "video/avi", "application/octet-stream"}

// Purpose returns the upload purpose that receives training videos.
func (s *Service) Purpose() upload.Purpose {
	return upload.Purpose{Name: UploadPurpose, MaxSize: MaxUploadSize, ContentTypes: UploadTypes,
		Roles: []auth.Role{auth.RoleOps, auth.RoleAdmin}, Authorize: s.AuthorizeUpload, Complete: s.CompleteUpload}
}

// AuthorizeUpload lets ops and admins upload the file of an existing video: forbidden for
// anyone else, not_found for an unknown or deleted video_id.
func (s *Service) AuthorizeUpload(ctx context.Context, p *auth.Principal, meta map[string]string) error {
	if err := requireOps(p); err != nil {
		return err
	}
	if meta["video_id"] == "" {
		return apperr.Field("Upload-Metadata", "video_id is required")
	}
	_, err := s.video(ctx, meta["video_id"])
	return err
}

// CompleteUpload checks a finished upload with ffprobe (a real video stream, a known container
// and codecs, the duration limit) and queues it for processing as the video's new content. A
// file that fails the checks is refused with invalid (the upload service then deletes it and
// the last PATCH answers the problem). It is idempotent: an upload already queued is left alone.
func (s *Service) CompleteUpload(ctx context.Context, _ *auth.Principal, in upload.Info) error {
	videoID := in.Meta["video_id"]
	if _, err := s.video(ctx, videoID); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return apperr.Field("video_id", "the video was deleted during the upload")
		}
		return err
	}
	n, err := s.coll(jobsColl).CountDocuments(ctx, bson.D{{Key: "_id", Value: in.ID}})
	if err != nil {
		return fmt.Errorf("find job: %w", mongodb.Translate(err, "job"))
	}
	if n > 0 {
		return nil
	}
	if _, err := s.probeObject(ctx, in.Bucket, in.Key); err != nil {
		return err
	}
	now := s.Now.UTC()
	j := jobDoc{ID: in.ID, VideoID: videoID, SourceBucket: string(in.Bucket), SourceKey: in.Key,
		State: jobQueued, CreatedAt: now, UpdatedAt: now}
	if _, err := s.coll(jobsColl).InsertOne(ctx, j); err != nil && !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("queue job: %w", mongodb.Translate(err, "job"))
	}
	var previous string
	var playing bool // previous is the version that plays (it may not be marked done yet)
	err = s.modify(ctx, videoID, func(d *videoDoc) (bson.D, error) {
		previous, playing = d.Job, d.Current != nil && d.Current.ID == d.Job
		d.Job, d.Status, d.Percent, d.Failure = in.ID, StatusUploaded, 0, ""
		return d.processing(), nil
	})
	if err != nil {
		return err
	}
	// A replaced upload that never became current is not needed any more, nor is anything its
	// transcode stored: a failed job is never run again, and a queued one may have stored
	// outputs in a worker that died. A worker running it notices and stops, and discards what
	// it stores after this too (supersede).
	if previous != "" && previous != in.ID && !playing {
		var old jobDoc
		err := s.coll(jobsColl).FindOne(ctx, bson.D{{Key: "_id", Value: previous}}).Decode(&old)
		if err == nil && old.State != jobDone {
			return s.discardRevision(ctx, previous, now)
		}
	}
	return nil
}
