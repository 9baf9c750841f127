package training

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/media/video"
)

// errSuperseded stops a job whose video was deleted or got a newer upload.
var errSuperseded = errors.New("superseded")

// runJob processes one job while its lease is held: transcode, store the outputs, publish them.
// Every step is idempotent, so a job cut short anywhere is simply run again; the outputs of a
// revision have fixed keys, and publishing a revision that is already current changes nothing.
func (s *Service) runJob(ctx context.Context, id string) error {
	var j jobDoc
	if err := s.coll(jobsColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&j); err != nil {
		return fmt.Errorf("read job %s: %w", id, mongodb.Translate(err, "job"))
	}
	if j.State != jobQueued {
		return nil // finished by a worker whose lease we took over
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
		return err // tried again at the next poll
	}
	reason := "processing failed: " + err.Error()
	if refusal != nil && refusal.Code == apperr.Invalid {
		reason = refusal.Message
	}
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

var ffmpegFailure = regexp.MustCompile(`^(poster: )?ffmpeg: `)

func isFFmpegFailure(err error) bool { return ffmpegFailure.MatchString(err.Error()) }

func (s *Service) setJob(ctx context.Context, id string, set bson.D) error {
	set = append(set, bson.E{Key: "updated_at", Value: s.now()})
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
	now := s.now()
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

type outputs struct {
	rev       *revision
	playlists map[string]string
	keys      []string
}

// transcode downloads the source, checks it again, runs ffmpeg and stores every output under
// training/<video>/<job>/.
func (s *Service) transcode(ctx context.Context, j *jobDoc) (*outputs, error) {
	work, err := os.MkdirTemp(s.tempDir(), "mportal-training-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "source")
	if err := s.download(ctx, j, src); err != nil {
		return nil, err
	}
	info, err := video.Probe(ctx, src, video.Limits{MaxDuration: s.MaxDuration})
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(work, "out")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	last := time.Time{}
	res, err := video.Transcode(ctx, src, dir, info, video.Options{Preset: s.Preset, Nice: s.Nice,
		Progress: func(p int) {
			// At most one write every two seconds: progress is for people watching a list.
			if now := s.now(); last.IsZero() || now.Sub(last) >= 2*time.Second {
				last = now
				if err := s.setProgress(ctx, j, p); err != nil && ctx.Err() == nil {
					s.log().Warn("training: record progress", "job", j.ID, "error", err.Error())
				}
			}
		}})
	if err != nil {
		return nil, err
	}
	prefix := path.Join("training", j.VideoID, j.ID)
	out := &outputs{playlists: map[string]string{}, rev: &revision{ID: j.ID, Prefix: prefix,
		DurationMS: info.Duration.Milliseconds(), Renditions: res.Renditions,
		PosterKey: prefix + "/" + video.PosterFile, OfflineKey: prefix + "/" + video.OfflineFile}}
	files, err := video.Files(dir)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		key := prefix + "/" + f
		if err := s.putFile(ctx, filepath.Join(dir, filepath.FromSlash(f)), key, out); err != nil {
			return nil, err
		}
		out.keys = append(out.keys, key)
		switch name, _ := strings.CutSuffix(f, "/"+video.VariantPlaylist); {
		case f == video.MasterPlaylist || strings.HasSuffix(f, "/"+video.VariantPlaylist):
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
			if err != nil {
				return nil, err
			}
			if f == video.MasterPlaylist {
				name = "master"
			}
			out.playlists[name] = string(b)
		}
	}
	return out, nil
}

// download copies the source upload to a local file: ffmpeg reads it several times and seeks,
// and a presigned URL could expire during a long transcode.
func (s *Service) download(ctx context.Context, j *jobDoc, dst string) error {
	r, err := s.Store.Open(ctx, media.Bucket(j.SourceBucket), j.SourceKey, 0, -1)
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer r.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("download source: %w", err)
	}
	return f.Close()
}

var contentTypes = map[string]string{".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t",
	".mp4": "video/mp4", ".jpg": "image/jpeg"}

// putFile stores one output; the offline MP4's size and SHA-256 go into the revision.
func (s *Service) putFile(ctx context.Context, file, key string, out *outputs) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	ct := contentTypes[filepath.Ext(file)]
	if ct == "" {
		ct = mime.TypeByExtension(filepath.Ext(file))
	}
	var r io.Reader = f
	h := sha256.New()
	if key == out.rev.OfflineKey {
		r = io.TeeReader(f, h)
	}
	if _, err := s.Store.Put(ctx, media.Videos, key, r, st.Size(), ct); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	if key == out.rev.OfflineKey {
		out.rev.OfflineSize, out.rev.OfflineSHA256 = st.Size(), hex.EncodeToString(h.Sum(nil))
	}
	return nil
}

// supersede marks a job whose video was deleted or replaced, and discards what it stored.
func (s *Service) supersede(ctx context.Context, j *jobDoc) error {
	if err := s.setJob(ctx, j.ID, bson.D{{Key: "state", Value: jobSuperseded}}); err != nil {
		return err
	}
	return s.discardRevision(ctx, j.ID, s.now())
}
