package training

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/media/video"
)

// errSuperseded stops a job whose video was deleted or got a newer upload.
var errSuperseded = errors.New("superseded")

// errNotQueued: the job was finished meanwhile by another worker (it read as queued, then that
// worker finished it and removed its leases, so this one's claim succeeded).
var errNotQueued = errors.New("job no longer queued")

// runJob processes one job while its lease is held: transcode, store the outputs, publish them.
// Every step is idempotent, so a job cut short anywhere is simply run again; the outputs of a
// revision have fixed keys, and publishing a revision that is already current changes nothing.
func (s *Service) runJob(ctx context.Context, id string) error {
	var j jobDoc
	if err := s.coll(jobsColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&j); err != nil {
		return fmt.Errorf("read job %s: %w", id, mongodb.Translate(err, "job"))
	}
	if j.State != jobQueued {
		return errNotQueued // finished by a worker whose lease we took over
	}
	j.Attempts++
	if err := s.setJob(ctx, id, bson.D{{Key: "attempts", Value: j.Attempts}}); err != nil {
		return err
	}
	err := s.process(ctx, &j)
	switch {
	case errors.Is(err, errSuperseded):
		return s.supersede(ctx, &j)
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return err // stopped: the next holder starts over
	}
	var refusal *apperr.Error
	permanent := errors.As(err, &refusal) && refusal.Code == apperr.Invalid || isFFmpegFailure(err)
	if !permanent && j.Attempts < maxAttempts {
		// Tried again after retryDelay (RunOne), from when this attempt failed.
		if serr := s.setJob(ctx, id, bson.D{{Key: "failed_at", Value: s.Now.UTC()}}); serr != nil {
			return errors.Join(err, serr)
		}
		return err
	}
	reason := failureReason(err, refusal)
	s.log().Warn("training: video processing failed", "job", id, "video_id", j.VideoID, "error", err.Error())
	if err := s.setJob(ctx, id, bson.D{{Key: "state", Value: jobFailed}, {Key: "failure", Value: reason}}); err != nil {
		return err
	}
	return s.modify(ctx, j.VideoID, func(d *videoDoc) (bson.D, error) {
		if d.Job != id {
			return nil, nil
		}
		d.Status, d.Failure = StatusFailed, reason
		return d.processing(), nil
	})
}

// failureReason is what ops are told of a failed processing (the video's failure): a refusal's
// message, ffmpeg's complaint about the file, or, for anything else (storage or the database
// failing three times), our own words: the error's text may be a driver's, logged instead.
func failureReason(err error, refusal *apperr.Error) string {
	switch {
	case refusal != nil && refusal.Code == apperr.Invalid:
		return refusal.Message
	case isFFmpegFailure(err):
		return "processing failed: " + err.Error()
	case refusal != nil:
		return "processing failed: " + refusal.Message
	}
	return fmt.Sprintf("processing failed %d times: storage or the database did not answer; retry it", maxAttempts)
}

// isFFmpegFailure reports whether ffmpeg refused the file, at any step (the ladder, the offline
// MP4): permanent, and its reason is shown to ops. (A message pattern did this, and missed the
// offline MP4's prefix: those failures ran three times and were blamed on storage.)
func isFFmpegFailure(err error) bool {
	var fe *video.FFmpegError
	return errors.As(err, &fe)
}

func (s *Service) setJob(ctx context.Context, id string, set bson.D) error {
	set = append(set, bson.E{Key: "updated_at", Value: s.Now.UTC()})
	_, err := s.coll(jobsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return fmt.Errorf("update job %s: %w", id, mongodb.Translate(err, "job"))
	}
	return nil
}

// current reports whether j is still its video's latest upload.
func (s *Service) current(ctx context.Context, j *jobDoc) (*videoDoc, error) {
	d, err := s.video(ctx, j.VideoID)
	if apperr.Is(err, apperr.NotFound) || (err == nil && d.Job != j.ID) {
		return nil, errSuperseded
	}
	return d, err
}

func (s *Service) process(ctx context.Context, j *jobDoc) error {
	d, err := s.current(ctx, j)
	if err != nil {
		return err
	}
	if j.Output == nil {
		if err := s.setProgress(ctx, j, 0); err != nil {
			return err
		}
		out, err := s.transcode(ctx, j)
		if err != nil {
			return err
		}
		j.Output, j.Playlists, j.Keys = out.rev, out.playlists, out.keys
		if err := s.setJob(ctx, j.ID, bson.D{{Key: "output", Value: out.rev},
			{Key: "playlists", Value: out.playlists}, {Key: "keys", Value: out.keys}}); err != nil {
			return err
		}
	}
	// Publish: the new revision becomes current; the one it replaces stays until every playback
	// URL handed out for it has expired.
	var old *revision
	err = s.modify(ctx, d.ID, func(d *videoDoc) (bson.D, error) {
		if d.Job != j.ID {
			return nil, errSuperseded
		}
		if d.Current != nil && d.Current.ID != j.ID {
			old = d.Current
		}
		d.Current, d.Status, d.Percent, d.Failure = j.Output, StatusReady, 100, ""
		return d.processing(), nil
	})
	if err != nil {
		return err
	}
	now := s.Now.UTC()
	if old != nil {
		if err := s.discardRevision(ctx, old.ID, now.Add(media.MaxPlaybackExpiry)); err != nil {
			return err
		}
	}
	// The source is not needed any more (retry is for failures).
	if err := s.discard(ctx, "source:"+j.ID, j.SourceBucket, []string{j.SourceKey, j.SourceKey + ".info"}, now); err != nil {
		return err
	}
	if err := s.setJob(ctx, j.ID, bson.D{{Key: "state", Value: jobDone}}); err != nil {
		return err
	}
	_, _ = s.coll(leasesColl).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$regex", Value: "^" + regexp.QuoteMeta(j.ID) + ":"}}}})
	return nil
}

// setProgress records how far processing got, if j is still the video's latest upload.
func (s *Service) setProgress(ctx context.Context, j *jobDoc, percent int) error {
	return s.modify(ctx, j.VideoID, func(d *videoDoc) (bson.D, error) {
		if d.Job != j.ID {
			return nil, errSuperseded
		}
		d.Status, d.Percent, d.Failure = StatusProcessing, percent, ""
		return d.processing(), nil
	})
}

// supersede marks a job whose video was deleted or replaced, and discards what it stored.
// The folder gets a claim of its own, made after this worker's last write: the revision's
// claim may be one that the newer upload made while this worker was still storing outputs,
// and that was collected since.
func (s *Service) supersede(ctx context.Context, j *jobDoc) error {
	if err := s.setJob(ctx, j.ID, bson.D{{Key: "state", Value: jobSuperseded}}); err != nil {
		return err
	}
	now := s.Now.UTC()
	_, err := mongodb.Claim(ctx, s.coll(garbageColl), "superseded:"+j.ID, bson.D{{Key: "bucket", Value: string(media.Videos)},
		{Key: "folder", Value: outputFolder(j)}, {Key: "delete_after", Value: now}})
	if err != nil {
		return err
	}
	return s.discardRevision(ctx, j.ID, now)
}
