package directory

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// MaxUserDevices bounds the devices OfUser returns: a user with more has stale records, and the
// most recently seen ones are the ones an admin asks about.
const MaxUserDevices = 100

// OfUser returns a user's devices for an admin, most recently seen first (at most
// MaxUserDevices). It returns forbidden unless actor is an admin and invalid (field user_id) for
// an empty id; a user without devices, or an unknown one, has none.
func (s *Devices) OfUser(ctx context.Context, actor *auth.Principal, userID string) ([]Device, error) {
	if err := auth.RequireRole(actor, auth.RoleAdmin); err != nil {
		return nil, err
	}
	if userID == "" {
		return nil, apperr.Field("user_id", "user_id is required")
	}
	opts := options.Find().SetSort(bson.D{{Key: "last_seen_at", Value: -1}, {Key: "_id", Value: 1}}).SetLimit(MaxUserDevices)
	cur, err := s.devices().Find(ctx, bson.D{{Key: "user_id", Value: userID}}, opts)
	if err != nil {
		return nil, fmt.Errorf("list devices of %s: %w", userID, mongodb.Translate(err, "device"))
	}
	devices := []Device{}
	if err := cur.All(ctx, &devices); err != nil {
		return nil, fmt.Errorf("list devices of %s: %w", userID, mongodb.Translate(err, "device"))
	}
	for i := range devices {
		devices[i].HasPushToken = devices[i].PushToken != ""
	}
	return devices, nil
}
