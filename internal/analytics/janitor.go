package analytics

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// Purge deletes the raw events older than the retention; the embedded database has no TTL
// indexes, so a worker calls it. Rollups keep only counts and stay. Safe on every replica at
// once. It returns how many events it deleted.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	cutoff := s.Now.Stored().Add(-s.retention())
	res, err := s.events().DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("purge analytics events: %w", mongodb.Translate(err, "analytics event"))
	}
	return res.DeletedCount, nil
}
