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
// the last PATCH answers the problem). It is idempotent, and safe to call again after it failed
// at any step (the upload service does, until it succeeds):
//
//  1. the job is inserted "pending", which no worker runs;
//  2. the video is pointed at it, unless an upload completed later already replaced it (then
//     the job is superseded and its file discarded);
//  3. only then is it "queued".
//
// Before, the job was queued first: a worker polling before step 2 found it was not its video's
// job, superseded it and deleted its file, and step 2 then left the video "uploaded" for good;
// and a call after step 2 failed found the job and stopped, so the video never pointed at it.
func (s *Service) CompleteUpload(ctx context.Context, _ *auth.Principal, in upload.Info) error {
	videoID := in.Meta["video_id"]
	if _, err := s.video(ctx, videoID); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return apperr.Field("video_id", "the video was deleted during the upload")
		}
		return err
	}
	j, err := s.pendingJob(ctx, in, videoID)
	if err != nil || j == nil {
		return err
	}
	if err := s.afterStep("inserted"); err != nil {
		return err
	}
	var previous string
	var playing, replaced bool // playing: previous is the version that plays (it may not be marked done yet)
	err = s.modify(ctx, videoID, func(d *videoDoc) (bson.D, error) {
		if d.Job == j.ID {
			return nil, nil // done by an earlier call
		}
		if d.Job != "" {
			var other jobDoc
			err := s.coll(jobsColl).FindOne(ctx, bson.D{{Key: "_id", Value: d.Job}}).Decode(&other)
			if err != nil && !mongodb.IsNotFound(err) {
				return nil, fmt.Errorf("read job %s: %w", d.Job, mongodb.Translate(err, "job"))
			}
			if err == nil && other.CreatedAt.After(j.CreatedAt) {
				replaced = true // an upload completed after this one is the video's content
				return nil, nil
			}
		}
		previous, playing = d.Job, d.Current != nil && d.Current.ID == d.Job
		d.Job, d.Status, d.Percent, d.Failure = j.ID, StatusUploaded, 0, ""
		return d.processing(), nil
	})
	if err != nil {
		return err
	}
	if replaced {
		return s.supersede(ctx, j)
	}
	if err := s.afterStep("pointed"); err != nil {
		return err
	}
	if err := s.setJob(ctx, j.ID, bson.D{{Key: "state", Value: jobQueued}}); err != nil {
		return err
	}
	// A replaced upload that never became current is not needed any more, nor is anything its
	// transcode stored: a failed job is never run again, and a queued one may have stored
	// outputs in a worker that died. A worker running it notices and stops, and discards what
	// it stores after this too (supersede).
	if previous != "" && !playing {
		var old jobDoc
		err := s.coll(jobsColl).FindOne(ctx, bson.D{{Key: "_id", Value: previous}}).Decode(&old)
		if err == nil && old.State != jobDone {
			return s.discardRevision(ctx, previous, s.Now.UTC())
		}
	}
	return nil
}

// pendingJob returns the job of upload in, inserting it "pending" after probing the file when
// there is none; nil when the job went past pending (queued by an earlier call: nothing to do).
func (s *Service) pendingJob(ctx context.Context, in upload.Info, videoID string) (*jobDoc, error) {
	for range 2 {
		var j jobDoc
		err := s.coll(jobsColl).FindOne(ctx, bson.D{{Key: "_id", Value: in.ID}}).Decode(&j)
		switch {
		case err == nil && j.State == jobPending:
			return &j, nil
		case err == nil:
			return nil, nil
		case !mongodb.IsNotFound(err):
			return nil, fmt.Errorf("find job: %w", mongodb.Translate(err, "job"))
		}
		if _, err := s.probeObject(ctx, in.Bucket, in.Key); err != nil {
			return nil, err
		}
		now := s.Now.UTC()
		j = jobDoc{ID: in.ID, VideoID: videoID, SourceBucket: string(in.Bucket), SourceKey: in.Key,
			State: jobPending, CreatedAt: now, UpdatedAt: now}
		_, err = s.coll(jobsColl).InsertOne(ctx, j)
		if err == nil {
			return &j, nil
		}
		if !mongodb.IsDuplicateKey(err) {
			return nil, fmt.Errorf("queue job: %w", mongodb.Translate(err, "job"))
		}
		// Another call inserted it meanwhile: read it.
	}
	return nil, apperr.New(apperr.Unavailable, "the upload of video %s is being completed; try again", videoID)
}
