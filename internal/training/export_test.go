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
