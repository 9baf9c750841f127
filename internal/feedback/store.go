package feedback

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// EnsureIndexes creates the indexes MongoDB needs for the sync queries and the ops filters.
//
// On FerretDB it creates the collections and no index: FerretDB v1.24 on SQLite only ever looks
// a document up by _id (see embedded.EnsureIDIndexes) and never reads another index, while
// every index is an SQLite expression index that each insert and update of a document must
// maintain, parsing its JSON once more. A database created before this rule keeps its indexes.
func (s *Service) EnsureIndexes(ctx context.Context) error {
	if s.DB.FerretDB {
		for _, name := range []string{feedbackColl, commentsColl, attachmentsColl, meTooColl, strippedColl} {
			if err := s.DB.DB.CreateCollection(ctx, name); err != nil && !mongodb.IsNamespaceExists(err) {
				return fmt.Errorf("create collection %s: %w", name, mongodb.Translate(err, name))
			}
		}
		return nil
	}
	for _, name := range []string{feedbackColl, commentsColl, attachmentsColl} {
		if err := mongodb.EnsureIndexes(ctx, s.coll(name), datasync.MetaIndexes()...); err != nil {
			return err
		}
	}
	if err := mongodb.EnsureIndexes(ctx, s.coll(feedbackColl),
		mongo.IndexModel{Keys: bson.D{{Key: "received_at", Value: -1}, {Key: "_id", Value: -1}}},
		mongo.IndexModel{Keys: bson.D{{Key: "status", Value: 1}, {Key: "received_at", Value: -1}}},
	); err != nil {
		return err
	}
	for _, name := range []string{commentsColl, attachmentsColl} {
		if err := mongodb.EnsureIndexes(ctx, s.coll(name), mongo.IndexModel{Keys: bson.D{{Key: "feedback_id", Value: 1}}}); err != nil {
			return err
		}
	}
	return nil
}

// Start creates the indexes and loads the in-memory counts and, on the embedded database, the
// in-memory copy of the feedback that serves pulls; run it before serving.
func (s *Service) Start(ctx context.Context) error {
	if err := s.EnsureIndexes(ctx); err != nil {
		return fmt.Errorf("feedback indexes: %w", err)
	}
	if s.DB.Embedded {
		if err := s.cache.load(ctx, s.coll(feedbackColl)); err != nil {
			return err
		}
	}
	return s.LoadCounts(ctx)
}

// findByID decodes the document id of coll into v; not_found (naming what) when it is missing.
func (s *Service) findByID(ctx context.Context, coll, id, what string, v any) error {
	err := s.coll(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(v)
	if err != nil {
		return mongodb.Translate(err, what)
	}
	return nil
}

// loadFeedback reads feedback id into d: from the in-memory copy when it is on (it is exact, see
// feedbackCache), else from the database; not_found when it is missing.
func (s *Service) loadFeedback(ctx context.Context, id string, d *feedbackDoc) error {
	cached, found, on := s.cache.get(id)
	switch {
	case !on:
		return s.findByID(ctx, feedbackColl, id, "feedback", d)
	case !found:
		return apperr.New(apperr.NotFound, "feedback not found")
	}
	*d = cached
	return nil
}

// byID is the filter of a conditional write of document id. On MongoDB the conditions make the
// write atomic. On FerretDB, whose updates are not atomic anyway, the caller checks them under
// the record's lock and only {_id: id} is sent: FerretDB v1.24 pushes that one filter shape down
// to SQLite, where the _id expression index finds the row (embedded.EnsureIDIndexes), while
// any other filter makes it read and decode the collection in Go until a document matches.
func (s *Service) byID(id string, conds ...bson.E) bson.D {
	filter := bson.D{{Key: "_id", Value: id}}
	if s.DB.FerretDB {
		return filter
	}
	return append(filter, conds...)
}

// liveFeedback loads feedback id; not_found when it is missing or deleted.
func (s *Service) liveFeedback(ctx context.Context, id string) (*feedbackDoc, error) {
	var d feedbackDoc
	if err := s.loadFeedback(ctx, id, &d); err != nil {
		return nil, err
	}
	if d.Deleted {
		return nil, apperr.New(apperr.NotFound, "feedback not found")
	}
	return &d, nil
}

// stamp raises the document's _seq to seq ($max: a slower writer never moves it back), so the
// next pull resends it; for a change of something computed into the record (counts). The
// caller holds the record's lock.
func (s *Service) stamp(ctx context.Context, coll, id string, seq int64) error {
	_, err := s.coll(coll).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
		{Key: "$max", Value: bson.D{{Key: "_seq", Value: seq}}},
		{Key: "$set", Value: bson.D{{Key: "_updated_at", Value: s.Now.Stored()}}},
	})
	if err != nil {
		return fmt.Errorf("stamp %s/%s: %w", coll, id, mongodb.Translate(err, coll))
	}
	return nil
}

// stampFeedback stamps feedback id under its lock and returns its keys for the Touch.
func (s *Service) stampFeedback(ctx context.Context, id string, seq int64) ([]string, error) {
	return s.stampFeedbackReplied(ctx, id, seq, false)
}

// stampFeedbackReplied is stampFeedback, also marking the feedback ops_replied when replied.
func (s *Service) stampFeedbackReplied(ctx context.Context, id string, seq int64, replied bool) ([]string, error) {
	unlock := s.DB.Lock(lockKey(id))
	defer unlock()
	var d feedbackDoc
	if err := s.loadFeedback(ctx, id, &d); err != nil {
		return nil, err
	}
	set := bson.D{{Key: "_updated_at", Value: s.Now.Stored()}}
	if replied {
		set = append(set, bson.E{Key: "ops_replied", Value: true})
	}
	if _, err := s.coll(feedbackColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
		{Key: "$max", Value: bson.D{{Key: "_seq", Value: seq}}}, {Key: "$set", Value: set}}); err != nil {
		return nil, fmt.Errorf("stamp %s/%s: %w", feedbackColl, id, mongodb.Translate(err, feedbackColl))
	}
	d.Seq, d.UpdatedAt, d.OpsReplied = max(d.Seq, seq), s.Now.Stored(), d.OpsReplied || replied
	s.cache.put(&d)
	return d.Keys, nil
}

// feedbackKeys are the audience keys of feedback: its author, plus the channel's testers when it
// is shared.
func feedbackKeys(authorID string, shared bool, appID, channel string) []string {
	keys := []string{datasync.UserKey(authorID)}
	if shared {
		keys = append(keys, datasync.ChannelKey(appID, channel))
	}
	return keys
}

// shareable reports whether feedback on channel may be shared with testers: the stable channel
// has no testers, only staff.
func shareable(channel string) bool { return channel != "" && channel != "stable" }

// heldKeys returns the audience keys p holds (own key, and granted channel keys when Grants is
// wired).
func (s *Service) heldKeys(ctx context.Context, p *auth.Principal) ([]string, error) {
	if s.Grants == nil {
		return []string{datasync.UserKey(p.UserID)}, nil
	}
	return s.Grants.Keys(ctx, p)
}

// canSee reports whether a caller holding keys may see d: its author, ops and admins, and the
// holders of one of its keys (a shared feedback's testers).
func canSee(p *auth.Principal, keys []string, d *feedbackDoc) bool {
	if p.UserID == d.AuthorID || p.HasAnyRole(auth.RoleOps, auth.RoleAdmin) {
		return true
	}
	return slices.ContainsFunc(d.Keys, func(k string) bool { return slices.Contains(keys, k) })
}

// visibleFeedback loads feedback id for p: not_found when it is missing, deleted or not visible.
func (s *Service) visibleFeedback(ctx context.Context, p *auth.Principal, id string) (*feedbackDoc, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	d, err := s.liveFeedback(ctx, id)
	if err != nil {
		return nil, err
	}
	keys, err := s.heldKeys(ctx, p)
	if err != nil {
		return nil, err
	}
	if !canSee(p, keys, d) {
		return nil, apperr.New(apperr.NotFound, "feedback not found")
	}
	return d, nil
}

// authorName returns the user's display name; "" when the directory does not know them.
func (s *Service) authorName(ctx context.Context, userID string) (string, error) {
	name, err := s.Users.Name(ctx, userID)
	if apperr.Is(err, apperr.NotFound) {
		return "", nil
	}
	return name, err
}

func newID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// claimSlot takes ops version version of feedback id for owner (an ops write's token, or an
// author's delete), when instances share a FerretDB reached by URI: there DB.Lock spans one
// process and byID drops its conditions, so two instances' writes of one record both went
// through (two ops status changes both answered 200, one silently lost; an author's delete
// tombstoning a record ops had just triaged, replies and photos with it). The unique _id is the
// one guard FerretDB enforces across processes. It reports whether owner holds the slot (won
// now, or in an earlier run of the same write). A slot older than slotTTL whose version was
// never written (its writer failed or died: the caller read the version before it) is taken
// over. Elsewhere (the embedded database's lock, MongoDB's conditional filters) it holds the
// slot at once. A writer that holds a slot and then fails gives it back (releaseSlot).
func (s *Service) claimSlot(ctx context.Context, id string, version int64, owner string) (bool, error) {
	if !s.DB.FerretDB || s.DB.Embedded {
		return true, nil
	}
	key := slotKey(id, version)
	for range 2 {
		now := s.Now.Stored()
		won, err := mongodb.Claim(ctx, s.coll(slotsColl), key, bson.D{{Key: "owner", Value: owner}, {Key: "at", Value: now}})
		if err != nil || won {
			return won, err
		}
		var c struct {
			Owner string    `bson:"owner"`
			At    time.Time `bson:"at"`
		}
		if err := s.findByID(ctx, slotsColl, key, "feedback", &c); err != nil {
			if apperr.Is(err, apperr.NotFound) {
				continue // released meanwhile
			}
			return false, err
		}
		if c.Owner == owner {
			return true, nil
		}
		if now.Sub(c.At) < slotTTL {
			return false, nil
		}
		if _, err := s.coll(slotsColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "owner", Value: c.Owner}}); err != nil {
			return false, fmt.Errorf("take over feedback slot %s: %w", key, mongodb.Translate(err, "feedback"))
		}
	}
	return false, nil
}

// slotTTL is how long a claimed slot whose version was not written holds off other writers.
const slotTTL = time.Minute

func slotKey(id string, version int64) string { return id + "/" + strconv.FormatInt(version, 10) }

// releaseSlot gives back owner's slot of version of feedback id after its write failed, so the
// record is not held off from ops until slotTTL.
func (s *Service) releaseSlot(ctx context.Context, id string, version int64, owner string) {
	if !s.DB.FerretDB || s.DB.Embedded {
		return
	}
	_, _ = s.coll(slotsColl).DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: slotKey(id, version)}, {Key: "owner", Value: owner}})
}
