package datasync

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// accessDoc is a grant of an audience key to a user (or its revocation, kept until the horizon
// so that devices learn about it).
type accessDoc struct {
	ID      string `bson:"_id"` // "<user id>|<key>"
	UserID  string `bson:"user_id"`
	Key     string `bson:"key"`
	Granted bool   `bson:"granted"`
	Seq     int64  `bson:"_seq"`
}

// Grant lets userID see the records of key (a channel's feedback, say): their next pull gets
// all of them (as live records, in updated). Granting a key the user holds already changes nothing. It returns
// invalid for an empty user or key and unavailable when the database cannot be written.
func (e *Engine) Grant(ctx context.Context, userID, key string) error {
	return e.setAccess(ctx, userID, key, true)
}

// Revoke takes key away from userID: their next pull gets the records they saw only through it
// as deleted. Revoking a key the user does not hold changes nothing. It returns invalid for an
// empty user or key and unavailable when the database cannot be written.
func (e *Engine) Revoke(ctx context.Context, userID, key string) error {
	return e.setAccess(ctx, userID, key, false)
}

func (e *Engine) setAccess(ctx context.Context, userID, key string, granted bool) (err error) {
	if userID == "" || key == "" {
		return apperr.New(apperr.Invalid, "a grant needs a user and a key")
	}
	defer apperr.Wrapf(&err, "set sync access of %s to %s", userID, key)
	if e.DB.Embedded {
		// This process is the only writer, so its index is the truth: skip no-op writes.
		if g, _ := e.idx.grant(userID, key); g.granted == granted {
			return nil
		}
	}
	id := userID + "|" + key
	return e.write(ctx, func(ctx context.Context, seq int64) (change, error) {
		doc := accessDoc{ID: id, UserID: userID, Key: key, Granted: granted, Seq: seq}
		_, err := e.DB.Collection(accessColl).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc,
			options.Replace().SetUpsert(true))
		if mongodb.IsDuplicateKey(err) { // a concurrent first grant inserted it: replace that
			_, err = e.DB.Collection(accessColl).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc)
		}
		if err != nil {
			return change{}, fmt.Errorf("write grant: %w", mongodb.Translate(err, "sync grant"))
		}
		return change{grants: []grantChange{{UserID: userID, Key: key, Granted: granted}}}, nil
	})
}

// GrantedKeys returns the keys granted to userID and not revoked, as the database holds them, so
// that grants written by another instance count at once. It is for REST reads; pulls use the
// engine's index. It returns unavailable when the database fails.
func (e *Engine) GrantedKeys(ctx context.Context, userID string) ([]string, error) {
	rows, err := mongodb.FindAll[accessDoc](ctx, e.DB.Collection(accessColl),
		bson.D{{Key: "user_id", Value: userID}, {Key: "granted", Value: true}}, "sync grant",
		options.Find().SetProjection(bson.D{{Key: "key", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("grants of %s: %w", userID, err)
	}
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.Key
	}
	return keys, nil
}
