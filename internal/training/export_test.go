package training

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MarkReadyForTest gives video id a playable revision of durationMS without processing a file,
// so that tests of progress and reports choose their durations (the processing itself is tested
// with real ffmpeg runs elsewhere in this package).
func (s *Service) MarkReadyForTest(ctx context.Context, id string, durationMS int64) error {
	return s.modify(ctx, id, func(d *videoDoc) (bson.D, error) {
		d.Status = StatusReady
		d.Current = &revision{ID: "seeded-" + id, Prefix: "training/" + id + "/seeded/", DurationMS: durationMS,
			PosterKey: "training/" + id + "/seeded/poster.jpg"}
		return d.processing(), nil
	})
}

// SeedProgress is one progress row for SeedProgressForTest.
type SeedProgress struct {
	UserID, VideoID string
	WatchedMS       int64
	Completed       bool
}

// SeedProgressForTest inserts progress rows directly (benchmarks of the report need thousands,
// which reports through the sync engine would take minutes to write).
func (s *Service) SeedProgressForTest(ctx context.Context, rows []SeedProgress) error {
	docs := make([]any, 0, len(rows))
	for _, r := range rows {
		docs = append(docs, progressDoc{ID: progressID(r.UserID, r.VideoID), UserID: r.UserID, VideoID: r.VideoID,
			Ranges: []Range{{StartMS: 0, EndMS: r.WatchedMS}}, WatchedMS: r.WatchedMS, Completed: r.Completed, Version: 1})
	}
	_, err := s.coll(progressColl).InsertMany(ctx, docs)
	return err
}

// SetCompleteStepForTest makes fn run after each step of CompleteUpload ("inserted", "pointed").
func (s *Service) SetCompleteStepForTest(fn func(step string) error) { s.completeStep = fn }
