package training

import (
	"context"
	"encoding/json"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clienttime"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// The training_progress sync table and the app schema version that added it (approvals added 3).
const (
	ProgressSyncTableName     = "training_progress"
	ProgressSyncSchemaVersion = 4
)

// ProgressRecord is a progress row as the training_progress table carries it: one per video of
// the user, whose id is the video's id (so every device of the user writes the same row).
// Ranges is the JSON of [{start_ms, end_ms}] (a WatermelonDB column holds no arrays); times are
// Unix milliseconds. Completed, CompletedAt and WatchedMS are the server's: pushed values are
// ignored.
type ProgressRecord struct {
	ID             string `json:"id"`
	VideoID        string `json:"video_id"`
	Ranges         string `json:"ranges"`
	LastPositionMS int64  `json:"last_position_ms"`
	ReportedAtMS   int64  `json:"reported_at_ms"`
	Completed      bool   `json:"completed"`
	CompletedAt    *int64 `json:"completed_at"`
	WatchedMS      int64  `json:"watched_ms"`
}

func (d *progressDoc) syncRecord() ProgressRecord {
	b, err := json.Marshal(nonNilRanges(d.Ranges))
	if err != nil {
		b = []byte("[]")
	}
	r := ProgressRecord{ID: d.VideoID, VideoID: d.VideoID, Ranges: string(b), LastPositionMS: d.LastPositionMS,
		ReportedAtMS: d.ReportedAtMS, Completed: d.Completed, WatchedMS: d.WatchedMS}
	if d.CompletedAt != nil {
		ms := d.CompletedAt.UnixMilli()
		r.CompletedAt = &ms
	}
	return r
}

// ProgressSyncTable returns the training_progress table: each user's own watch progress,
// written offline or online and merged by Merge. Register it with the engine that is Sync.
func (s *Service) ProgressSyncTable() datasync.Table { return progressTable{s} }

type progressTable struct{ s *Service }

func (progressTable) Name() string       { return ProgressSyncTableName }
func (progressTable) SchemaVersion() int { return ProgressSyncSchemaVersion }

// Pull sends the caller's rows written after the cursor (all of them on a first sync). Rows are
// never deleted.
func (t progressTable) Pull(ctx context.Context, q datasync.Query, out *datasync.TableWriter) error {
	filter := bson.D{{Key: "user_id", Value: q.User.UserID}}
	if q.Since > 0 {
		filter = append(filter, bson.E{Key: "_seq", Value: bson.D{{Key: "$gt", Value: q.Since}}})
	}
	cur, err := t.s.coll(progressColl).Find(ctx, filter)
	if err != nil {
		return fmt.Errorf("pull progress of %s: %w", q.User.UserID, mongodb.Translate(err, "progress"))
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var d progressDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("pull progress of %s: %w", q.User.UserID, err)
		}
		if err := out.Live(d.VideoID, d.syncRecord()); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("pull progress of %s: %w", q.User.UserID, mongodb.Translate(err, "progress"))
	}
	return nil
}

// pushedProgress is what Push reads of a pushed row.
type pushedProgress struct {
	ID             string `json:"id"`
	VideoID        string `json:"video_id"`
	Ranges         string `json:"ranges"`
	LastPositionMS int64  `json:"last_position_ms"`
	ReportedAtMS   int64  `json:"reported_at_ms"`
}

// Push merges each created or updated row into the caller's progress on its video (a row is
// always the caller's own: the server keys it by user and video). A row for a video the caller
// may not see is rejected not_found (field video_id), a malformed one invalid naming the column.
// Progress is never deleted: the delete of an existing row is rejected forbidden, that of a row
// the server never had is accepted (Gone).
func (t progressTable) Push(ctx context.Context, p *auth.Principal, seq int64, ch datasync.Changes) (datasync.Applied, error) {
	var a datasync.Applied
	for _, raw := range append(append([]json.RawMessage{}, ch.Created...), ch.Updated...) {
		rec, r, err := t.s.decodeProgress(raw)
		if err != nil {
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(rec.ID, raw, err))
			continue
		}
		_, changed, err := t.s.applyReport(ctx, p, rec.VideoID, r, seq)
		switch code := apperr.CodeOf(err); {
		case err == nil:
			a.Count++
			if changed {
				a.Touches = []datasync.Touch{{Table: ProgressSyncTableName, Keys: []string{datasync.UserKey(p.UserID)}}}
			}
		case code == apperr.NotFound:
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(rec.ID, raw,
				&apperr.Error{Code: apperr.NotFound, Field: "video_id", Message: "video " + rec.VideoID + " not found (or not meant for you)"}))
		case code == apperr.Invalid:
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(rec.ID, raw, err))
		default:
			return a, err
		}
	}
	for _, id := range ch.Deleted {
		_, found, err := t.s.readProgress(ctx, progressID(p.UserID, id))
		if err != nil {
			return a, err
		}
		if !found {
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(id, nil, datasync.Gone("progress")))
			continue
		}
		a.Rejected = append(a.Rejected, datasync.RejectionFrom(id, nil,
			apperr.New(apperr.Forbidden, "watch progress cannot be deleted")))
	}
	return a, nil
}

// decodeProgress reads a pushed row into a report: invalid naming the column when it is not one.
func (s *Service) decodeProgress(raw json.RawMessage) (pushedProgress, Report, error) {
	var rec pushedProgress
	if err := json.Unmarshal(raw, &rec); err != nil {
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &id)
		field := "ranges"
		if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
			field = te.Field
		}
		return pushedProgress{ID: id.ID}, Report{}, apperr.Field(field,
			"a progress row has video_id and ranges (strings), last_position_ms and reported_at_ms (whole numbers)")
	}
	if rec.VideoID == "" {
		rec.VideoID = rec.ID
	}
	if rec.VideoID != rec.ID {
		return rec, Report{}, apperr.Field("id", "a progress row's id is its video_id (one row per video)")
	}
	var ranges []Range
	if rec.Ranges != "" {
		if err := json.Unmarshal([]byte(rec.Ranges), &ranges); err != nil {
			return rec, Report{}, apperr.Field("ranges", "ranges is the JSON of [{start_ms, end_ms}]")
		}
	}
	if err := clienttime.Check("reported_at_ms", rec.ReportedAtMS, s.Now.UTC()); err != nil {
		return rec, Report{}, err
	}
	return rec, Report{Ranges: ranges, LastPositionMS: rec.LastPositionMS, ReportedAtMS: rec.ReportedAtMS}, nil
}
