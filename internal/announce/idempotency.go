package announce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// MaxIdempotencyKey is the longest Idempotency-Key accepted, in bytes.
const MaxIdempotencyKey = 255

// keyClaim is the document that claims an author's Idempotency-Key: _id "<author>/<key>" is the
// unique index on (author, key). The first create with the key inserts it, naming the
// announcement it creates; every later create with the key finds it.
type keyClaim struct {
	ID             string    `bson:"_id"`
	Author         string    `bson:"author"`
	Key            string    `bson:"key"`
	Fingerprint    string    `bson:"fingerprint"`
	AnnouncementID string    `bson:"announcement_id"`
	CreatedAt      time.Time `bson:"created_at"`
}

// CreateOnce is Create with the author's Idempotency-Key (draft-ietf-httpapi-idempotency-key-header):
// the first call with a key creates the announcement; a replay with the same key and the same
// input returns that announcement (the same id; it is published and pushed once), finishing
// the creation when the first call died half-way; the same key with a different input is
// idempotency_key_reused (field Idempotency-Key). Across instances the key is claimed by an
// insert with a unique _id, the one write the embedded FerretDB makes atomic. An empty key is
// Create. It returns what Create returns, and invalid (field Idempotency-Key) for a bad key.
func (s *Service) CreateOnce(ctx context.Context, actor *auth.Principal, key string, in Input) (_ *Announcement, err error) {
	if key == "" {
		return s.Create(ctx, actor, in)
	}
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	defer apperr.Wrapf(&err, "create announcement")
	if err := validKey(key); err != nil {
		return nil, err
	}
	now := s.Now.Stored()
	a, err := s.prepare(ctx, actor, in, now)
	if err != nil {
		return nil, err
	}
	fp, err := fingerprint(in)
	if err != nil {
		return nil, err
	}
	claim := keyClaim{ID: actor.UserID + "/" + key, Author: actor.UserID, Key: key, Fingerprint: fp,
		AnnouncementID: a.ID, CreatedAt: now}
	coll := s.DB.Collection(idempotencyColl)
	won, err := mongodb.Claim(ctx, coll, claim.ID, bson.D{{Key: "author", Value: claim.Author},
		{Key: "key", Value: key}, {Key: "fingerprint", Value: fp}, {Key: "announcement_id", Value: a.ID},
		{Key: "created_at", Value: now}})
	if err != nil {
		return nil, err
	}
	if !won {
		var prev keyClaim
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: claim.ID}}).Decode(&prev); err != nil {
			return nil, mongodb.Translate(err, "idempotency key")
		}
		if prev.Fingerprint != fp {
			return nil, &apperr.Error{Code: apperr.IdempotencyKeyReused, Field: "Idempotency-Key",
				Message: "this Idempotency-Key was used for a different announcement; use a new key for a new request"}
		}
		a.ID = prev.AnnouncementID
	}
	return s.store(ctx, a, now, !won)
}

// validKey checks an Idempotency-Key: 1 to MaxIdempotencyKey printable ASCII characters.
func validKey(key string) error {
	if len(key) > MaxIdempotencyKey {
		return apperr.Field("Idempotency-Key", "Idempotency-Key is over %d characters", MaxIdempotencyKey)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return apperr.Field("Idempotency-Key", "Idempotency-Key must be printable ASCII")
		}
	}
	return nil
}

// fingerprint identifies a create's input: the same JSON fields and values give the same one,
// whatever their order or spacing in the request.
func fingerprint(in Input) (string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return "", apperr.Wrap(err, apperr.Internal, "fingerprint the announcement")
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
