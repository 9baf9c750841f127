package training

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clienttime"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// progressColl holds one document per (user, video): the merged watch progress.
const progressColl = "training_progress"

// progressAttempts bounds the compare-and-swap loop of one report: each retry means another
// writer of the same (user, video) committed in between, so a handful always suffices.
const progressAttempts = 8

// Sync is the sync engine (datasync.Engine) as the training service uses it.
type Sync interface {
	// Write runs fn with a fresh sequence number; it returns fn's error as is and unavailable
	// when the sequence cannot be allocated.
	Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error
}

// ProgressInput is a report from an online player (PUT /v1/training/videos/{id}/progress):
// the spans watched since its last report (or all of them: reports merge by union), the
// position it is at and, optionally, its clock's time (zero: the server's).
type ProgressInput struct {
	Ranges         []Range `json:"ranges"`
	LastPositionMS int64   `json:"last_position_ms"`
	ReportedAtMS   int64   `json:"reported_at_ms"`
}

// WatchProgress is a user's merged progress on a video.
type WatchProgress struct {
	VideoID        string     `json:"video_id"`
	Ranges         []Range    `json:"ranges"`
	LastPositionMS int64      `json:"last_position_ms"`
	ReportedAtMS   int64      `json:"reported_at_ms"`
	Completed      bool       `json:"completed"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
	WatchedMS      int64      `json:"watched_ms"`
	DurationMS     int64      `json:"duration_ms"`
}

// progressDoc is a training_progress document. Its id is "<user>:<video>", so each user has one
// row per video whichever device reports; Version guards the read-merge-write on MongoDB.
type progressDoc struct {
	ID             string     `bson:"_id"`
	UserID         string     `bson:"user_id"`
	VideoID        string     `bson:"video_id"`
	Ranges         []Range    `bson:"ranges"`
	LastPositionMS int64      `bson:"last_position_ms"`
	ReportedAtMS   int64      `bson:"reported_at_ms"`
	Completed      bool       `bson:"completed"`
	CompletedAt    *time.Time `bson:"completed_at,omitempty"`
	WatchedMS      int64      `bson:"watched_ms"`
	DurationMS     int64      `bson:"duration_ms"`
	Version        int64      `bson:"version"`
	Seq            int64      `bson:"_seq"`
	UpdatedAt      time.Time  `bson:"updated_at"`
}

func progressID(userID, videoID string) string { return userID + ":" + videoID }

func (d *progressDoc) progress() Progress {
	return Progress{Ranges: d.Ranges, LastPositionMS: d.LastPositionMS, ReportedAtMS: d.ReportedAtMS, Completed: d.Completed}
}

func (d *progressDoc) view() *WatchProgress {
	return &WatchProgress{VideoID: d.VideoID, Ranges: nonNilRanges(d.Ranges), LastPositionMS: d.LastPositionMS,
		ReportedAtMS: d.ReportedAtMS, Completed: d.Completed, CompletedAt: d.CompletedAt, WatchedMS: d.WatchedMS,
		DurationMS: d.DurationMS}
}

func nonNilRanges(r []Range) []Range {
	if r == nil {
		return []Range{}
	}
	return r
}

// ReportProgress merges an online player's report into p's progress on a video (the same merge
// as a pushed training_progress record) and returns the result. It returns not_found for a
// video p may not see, invalid naming the field for a bad report, unavailable when the database
// cannot be reached.
func (s *Service) ReportProgress(ctx context.Context, p *auth.Principal, videoID string, in ProgressInput) (*WatchProgress, error) {
	if in.ReportedAtMS == 0 {
		in.ReportedAtMS = s.Now.UTC().UnixMilli()
	} else if err := clienttime.Check("reported_at_ms", in.ReportedAtMS, s.Now.UTC()); err != nil {
		return nil, err
	}
	r := Report(in)
	var out *progressDoc
	err := s.syncWrite(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		d, changed, err := s.applyReport(ctx, p, videoID, r, seq)
		if err != nil {
			return nil, err
		}
		out = d
		if !changed {
			return nil, nil
		}
		return []datasync.Touch{{Table: ProgressSyncTableName, Keys: []string{datasync.UserKey(p.UserID)}}}, nil
	})
	if err != nil {
		return nil, err
	}
	return out.view(), nil
}

// syncWrite runs fn through the sync engine, so devices pull what it wrote; without one (tests
// of other parts) it runs fn with sequence number 0.
func (s *Service) syncWrite(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error {
	if s.Sync == nil {
		_, err := fn(ctx, 0)
		return err
	}
	return s.Sync.Write(ctx, fn)
}

// applyReport merges r into p's progress on videoID and stamps the document with seq. changed is
// false when the report added nothing (a replay): nothing is written then, except when the
// write is run again (datasync.Rerun).
func (s *Service) applyReport(ctx context.Context, p *auth.Principal, videoID string, r Report, seq int64) (*progressDoc, bool, error) {
	v, err := s.visibleVideo(ctx, p, videoID)
	if err != nil {
		return nil, false, err
	}
	id := progressID(p.UserID, videoID)
	unlock := s.DB.Lock(progressColl + ":" + id)
	defer unlock()
	for range progressAttempts {
		prev, found, err := s.readProgress(ctx, id)
		if err != nil {
			return nil, false, err
		}
		merged, err := Merge(prev.progress(), r, v.Current.DurationMS)
		if err != nil {
			return nil, false, err
		}
		// A replay adds nothing and writes nothing, unless this is a sync write run again after
		// outliving its lease: the row may carry that run's number, which pulls read past.
		if found && !progressChanged(prev.progress(), merged) && !datasync.Rerun(ctx) {
			return prev, false, nil
		}
		next := *prev
		next.ID, next.UserID, next.VideoID = id, p.UserID, videoID
		next.Ranges, next.LastPositionMS, next.ReportedAtMS = merged.Ranges, merged.LastPositionMS, merged.ReportedAtMS
		next.WatchedMS, next.DurationMS, next.Completed = merged.WatchedMS(), v.Current.DurationMS, merged.Completed
		now := s.Now.UTC()
		if merged.Completed && next.CompletedAt == nil {
			next.CompletedAt = &now
		}
		next.Version, next.Seq, next.UpdatedAt = prev.Version+1, max(seq, prev.Seq), now
		ok, err := s.storeProgress(ctx, &next, prev.Version, found)
		if err != nil {
			return nil, false, err
		}
		if ok {
			if prev.CompletedAt == nil && next.CompletedAt != nil {
				s.recordUsage(p, "training_completed", videoID)
			}
			return &next, true, nil
		}
	}
	return nil, false, apperr.New(apperr.Unavailable, "progress of video %s is changing too fast; try again", videoID)
}

func progressChanged(a, b Progress) bool {
	return !slices.Equal(a.Ranges, b.Ranges) || a.LastPositionMS != b.LastPositionMS ||
		a.ReportedAtMS != b.ReportedAtMS || a.Completed != b.Completed
}

// readProgress reads a progress document; a missing one is a zero document and found false.
func (s *Service) readProgress(ctx context.Context, id string) (*progressDoc, bool, error) {
	var d progressDoc
	err := s.coll(progressColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	switch {
	case mongodb.IsNotFound(err):
		return &progressDoc{}, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("read progress %s: %w", id, mongodb.Translate(err, "progress"))
	}
	return &d, true, nil
}

// storeProgress inserts d (guarded by the _id index) or replaces the version that was read; ok
// is false when another writer got there first.
func (s *Service) storeProgress(ctx context.Context, d *progressDoc, version int64, exists bool) (bool, error) {
	if !exists {
		_, err := s.coll(progressColl).InsertOne(ctx, d)
		if mongodb.IsDuplicateKey(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("write progress %s: %w", d.ID, mongodb.Translate(err, "progress"))
		}
		return true, nil
	}
	res, err := s.coll(progressColl).ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "version", Value: version}}, d)
	if err != nil {
		return false, fmt.Errorf("write progress %s: %w", d.ID, mongodb.Translate(err, "progress"))
	}
	return res.MatchedCount == 1, nil
}

// Completed returns the users among userIDs who completed videoID (training.Completions, which
// the reminders read so that nobody who finished a video is reminded of it). It returns
// unavailable when the progress cannot be read.
func (s *Service) Completed(ctx context.Context, videoID string, userIDs []string) (map[string]bool, error) {
	out := make(map[string]bool)
	if len(userIDs) == 0 {
		return out, nil
	}
	type row struct {
		UserID string `bson:"user_id"`
	}
	rows, err := mongodb.FindAll[row](ctx, s.coll(progressColl), bson.D{
		{Key: "video_id", Value: videoID}, {Key: "completed", Value: true},
		{Key: "user_id", Value: bson.D{{Key: "$in", Value: userIDs}}},
	}, "progress", options.Find().SetProjection(bson.D{{Key: "user_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.UserID] = true
	}
	return out, nil
}
