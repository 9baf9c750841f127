package training

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/media/video"
)

// outputs is what a transcode stored: the revision, its playlists by name and every key.
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
			if now := s.Now.UTC(); last.IsZero() || now.Sub(last) >= 2*time.Second {
				last = now
				if err := s.setProgress(ctx, j, p); err != nil && ctx.Err() == nil {
					s.log().Warn("training: record progress", "job", j.ID, "error", err.Error())
				}
			}
		}})
	if err != nil {
		return nil, err
	}
	prefix := outputFolder(j)
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
	if apperr.Is(err, apperr.NotFound) {
		// Gone for good: no retry brings it back (and each would wait, see retryDelay).
		return apperr.New(apperr.Invalid, "the uploaded file is gone; upload it again")
	}
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
