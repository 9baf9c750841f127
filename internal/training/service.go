// Package training is the training-video domain: ops create a video's metadata and upload the
// file through the resumable uploads (purpose "training_video"); a worker queue transcodes it
// with media/video into HLS renditions, a poster and an offline MP4 in the private videos
// bucket; employees find the videos meant for them in the catalogue, play them through
// playlists whose every URL is presigned, and download the MP4 for offline viewing.
//
// It owns the collections training_videos, training_jobs, training_leases, training_garbage,
// training_views, training_progress (each user's watch progress, synced as the
// training_progress table) and training_notices.
package training

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
)

const (
	videosColl  = "training_videos"
	jobsColl    = "training_jobs"
	leasesColl  = "training_leases"
	garbageColl = "training_garbage"
	viewsColl   = "training_views"
)

// Store is the object storage the service needs: the media Store plus presigned URLs that
// outlive media.MaxPresignExpiry, for playback (media.MinIO implements it).
type Store interface {
	media.Store
	// PresignPlayback returns a GET URL valid for expiry, up to media.MaxPlaybackExpiry.
	PresignPlayback(ctx context.Context, bucket media.Bucket, key string, expiry time.Duration) (*url.URL, error)
	// DeleteFolder removes every object below folder: a transcode's outputs, all of them,
	// including those stored by a worker that died before it recorded their keys.
	DeleteFolder(ctx context.Context, bucket media.Bucket, folder string) error
}

var _ Store = (*media.MinIO)(nil)

// Service is the training-video domain. Fill in the exported fields, call EnsureIndexes, then
// register Purpose on the upload service and run Work in a worker.
type Service struct {
	DB    *mongodb.DB
	Store Store
	// PlaybackKey signs the playlist URLs handed to players (at least 32 random bytes).
	PlaybackKey []byte
	// PublicBaseURL is how players reach the API ("https://portal.example.com"), without /v1.
	PublicBaseURL string
	// MaxDuration is the longest video accepted; zero means video.DefaultMaxDuration.
	MaxDuration time.Duration
	// Workers is how many videos this instance transcodes at once; zero means one.
	Workers int
	// Preset and Nice tune ffmpeg (video.Options); zero values are the defaults.
	Preset string
	Nice   int
	// TempDir holds a source and its outputs while a video is processed; empty means os.TempDir().
	TempDir string
	// LeaseTTL is how long a worker's claim on a job lasts without renewal; zero means one minute.
	LeaseTTL time.Duration
	// PollInterval is how often idle workers look for queued jobs; zero means five seconds.
	PollInterval time.Duration
	// Holder names this instance in leases; empty means a random name.
	Holder string
	Logger *slog.Logger
	// Sync is the sync engine that the training_progress table is registered with; online
	// progress reports go through it so devices pull them. Nil writes without sequence numbers.
	Sync Sync
	// Directory lists the employees the ops completion report counts.
	Directory Directory
	// Usage, when set, records training_view (a user's first playback of a video in a UTC day)
	// and training_completed (once per user and video) usage events.
	Usage UsageRecorder
	// Now is the one clock; nil means the wall clock.
	Now clock.Func

	// completeStep, when set (tests), runs after each step of CompleteUpload ("inserted",
	// "pointed"); an error it returns fails the call there, as a database failure would.
	completeStep func(step string) error
}

func (s *Service) afterStep(step string) error {
	if s.completeStep == nil {
		return nil
	}
	return s.completeStep(step)
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) coll(name string) *mongo.Collection { return s.DB.Collection(name) }

func (s *Service) tempDir() string {
	if s.TempDir != "" {
		return s.TempDir
	}
	return os.TempDir()
}

// EnsureIndexes creates the indexes of the training collections.
func (s *Service) EnsureIndexes(ctx context.Context) error {
	if len(s.PlaybackKey) < 32 {
		return fmt.Errorf("training: PlaybackKey must have at least 32 bytes")
	}
	if err := mongodb.EnsureIndexes(ctx, s.coll(jobsColl),
		mongo.IndexModel{Keys: bson.D{{Key: "state", Value: 1}, {Key: "created_at", Value: 1}}}); err != nil {
		return err
	}
	if err := mongodb.EnsureIndexes(ctx, s.coll(garbageColl),
		mongo.IndexModel{Keys: bson.D{{Key: "delete_after", Value: 1}}}); err != nil {
		return err
	}
	if err := mongodb.EnsureIndexes(ctx, s.coll(progressColl),
		mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "_seq", Value: 1}}},
		mongo.IndexModel{Keys: bson.D{{Key: "video_id", Value: 1}}}); err != nil {
		return err
	}
	return mongodb.EnsureIndexes(ctx, s.coll(viewsColl), mongo.IndexModel{Keys: bson.D{{Key: "video_id", Value: 1}}})
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// video reads a video that is not deleted, or returns not_found.
func (s *Service) video(ctx context.Context, id string) (*videoDoc, error) {
	var d videoDoc
	err := s.coll(videosColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if err != nil {
		return nil, fmt.Errorf("video %s: %w", id, mongodb.Translate(err, "video"))
	}
	if d.Deleted {
		return nil, apperr.New(apperr.NotFound, "video not found")
	}
	return &d, nil
}

// videos reads every video that is not deleted, oldest first.
func (s *Service) videos(ctx context.Context) ([]videoDoc, error) {
	cur, err := s.coll(videosColl).Find(ctx, bson.D{{Key: "deleted", Value: false}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list videos: %w", mongodb.Translate(err, "video"))
	}
	var docs []videoDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list videos: %w", mongodb.Translate(err, "video"))
	}
	return docs, nil
}

// modify reads a video, lets fn change it and $sets the fields fn returns (nil: no write).
// Writers are serialized per video in this process, as the embedded FerretDB's updates are not
// atomic. On MongoDB, where that lock does nothing, ops' edits (metadata) and the processing
// state are disjoint fields, so neither loses the other's write; and a write of the processing
// state (an upload, the worker's progress, publish or failure) is filtered on the job it read:
// if another writer changed the job in between, fn runs again on what is stored now. Unfiltered,
// a worker's progress read before a replacement upload wrote the old job back, and the new
// upload was then dropped as superseded. fn's error aborts the write; fn may run more than once.
func (s *Service) modify(ctx context.Context, id string, fn func(d *videoDoc) (bson.D, error)) error {
	unlock := s.DB.Lock(videosColl + ":" + id)
	defer unlock()
	for {
		d, err := s.video(ctx, id)
		if err != nil {
			return err
		}
		filter := bson.D{{Key: "_id", Value: id}}
		readJob := d.Job
		set, err := fn(d)
		if err != nil || set == nil {
			return err
		}
		if slices.ContainsFunc(set, func(e bson.E) bool { return e.Key == "job" }) {
			var job any = readJob
			if readJob == "" { // not stored (omitempty): null matches a missing field
				job = bson.D{{Key: "$in", Value: bson.A{nil, ""}}}
			}
			filter = append(filter, bson.E{Key: "job", Value: job})
		}
		d.UpdatedAt = s.Now.UTC()
		set = append(set, bson.E{Key: "updated_at", Value: d.UpdatedAt})
		r, err := s.coll(videosColl).UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return fmt.Errorf("write video %s: %w", id, mongodb.Translate(err, "video"))
		}
		if r.MatchedCount == 1 {
			return nil
		}
		// The job changed since the read, or the video was deleted: read again.
	}
}

// metadata returns the fields ops edit, for modify.
func (d *videoDoc) metadata() bson.D {
	return bson.D{{Key: "title", Value: d.Title}, {Key: "description", Value: d.Description},
		{Key: "description_html", Value: d.DescriptionHTML}, {Key: "category", Value: d.Category},
		{Key: "tags", Value: d.Tags}, {Key: "roles", Value: d.Roles}, {Key: "departments", Value: d.Departments},
		{Key: "required", Value: d.Required}, {Key: "due_at", Value: d.DueAt}, {Key: "language", Value: d.Language},
		{Key: "published", Value: d.Published}}
}

// processing returns the fields uploads and workers change, for modify.
func (d *videoDoc) processing() bson.D {
	return bson.D{{Key: "status", Value: d.Status}, {Key: "percent", Value: d.Percent},
		{Key: "failure", Value: d.Failure}, {Key: "job", Value: d.Job}, {Key: "current", Value: d.Current}}
}

// opsView turns a document into the ops representation, with a poster URL and the view count.
func (s *Service) opsView(ctx context.Context, d *videoDoc) (*Video, error) {
	v := &Video{ID: d.ID, Title: d.Title, Description: d.Description, DescriptionHTML: d.DescriptionHTML,
		Category: d.Category, Tags: nonNil(d.Tags), Roles: nonNil(d.Roles), Departments: nonNil(d.Departments),
		Required: d.Required, DueAt: d.DueAt, Language: d.Language, Published: d.Published, Status: d.Status,
		Percent: d.Percent, Failure: d.Failure, Playable: d.Current != nil, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.Current != nil {
		v.DurationMS = d.Current.DurationMS
		u, err := s.posterURL(ctx, d.Current)
		if err != nil {
			return nil, err
		}
		v.PosterURL = u
	}
	n, err := s.coll(viewsColl).CountDocuments(ctx, bson.D{{Key: "video_id", Value: d.ID}})
	if err != nil {
		return nil, fmt.Errorf("count views: %w", mongodb.Translate(err, "view"))
	}
	v.Views = n
	return v, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
