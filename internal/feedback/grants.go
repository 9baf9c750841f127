package feedback

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// accessCollection is the sync engine's grants collection, {_id: "<user>|<key>", user_id, key,
// granted}, written by Engine.Grant and Engine.Revoke.
const accessCollection = "sync_access"

// AccessGrants implements Grants by reading the sync engine's grants, so that a tester sees over
// REST exactly the shared feedback that sync gives them. It reads one small collection per call
// (REST reads and comment pushes only; pulls get the keys from the engine).
type AccessGrants struct {
	DB *mongodb.DB
}

var _ Grants = (*AccessGrants)(nil)

// Keys implements Grants: p's own key and every key granted to p and not revoked.
func (g *AccessGrants) Keys(ctx context.Context, p *auth.Principal) ([]string, error) {
	keys := []string{datasync.UserKey(p.UserID)}
	cur, err := g.DB.Collection(accessCollection).Find(ctx,
		bson.D{{Key: "user_id", Value: p.UserID}, {Key: "granted", Value: true}},
		options.Find().SetProjection(bson.D{{Key: "key", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("grants of %s: %w", p.UserID, mongodb.Translate(err, "grant"))
	}
	var rows []struct {
		Key string `bson:"key"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("grants of %s: %w", p.UserID, mongodb.Translate(err, "grant"))
	}
	for _, r := range rows {
		keys = append(keys, r.Key)
	}
	return keys, nil
}
