package directory

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// ActiveUsers returns every active user in id order, without password hashes: the roster that
// reports count (the training completion report's "assigned"). It is for the server's own
// reports, not an endpoint: callers check the reader's role. It returns unavailable when the
// directory cannot be read.
func (s *Users) ActiveUsers(ctx context.Context) ([]User, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).
		SetProjection(bson.D{{Key: "password_hash", Value: 0}})
	return mongodb.FindAll[User](ctx, s.users(), bson.D{{Key: "status", Value: StatusActive}}, "active user", opts)
}
