// Package inbox is the in-app notification inbox: every notification the push engine fans out
// becomes an item in the inbox of each audience user, whether or not a push reaches them. Users
// list their items, see how many are unread, and mark one or all of them read.
//
// Items live in the collection "inbox" with _id "<user id>/<notification id>", so that writing
// a fan-out chunk twice is harmless and an item is only ever addressed through its owner's id.
// "Mark all read" stores one watermark per user in "inbox_state" instead of updating every
// item: FerretDB's updateMany over many documents takes minutes.
//
// With a Sync engine set, every write is stamped with a sync sequence number ("_seq") so that
// the inbox syncs to the app's offline database (see synctable.go).
//
// The list and the unread count filter by user_id. On MongoDB the index {user_id, created_at,
// _id} serves both; on the embedded FerretDB every non-_id filter scans the collection, which
// is fine at development scale (tens of thousands of items) but is why production runs MongoDB.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

// Store keeps the inbox. It implements push.InboxWriter for the engine and serves the users'
// inbox API.
type Store struct {
	DB *mongodb.DB
	// Now is the clock; nil means time.Now.
	Now clock.Func
	// Locale returns the language a user reads ("zh-CN", "en"); items are shown in it. nil, or
	// an empty answer, means zh-CN, the default locale.
	Locale func(ctx context.Context, userID string) (string, error)
	// Sync, when set, stamps every write with a sync sequence number so that the inbox table
	// syncs (see SyncTable). nil leaves the inbox unsynced.
	Sync Sync
	// Withdrawn, when set, names the announcements ops withdrew (announce.Service.Withdrawn):
	// their items (data.announcement_id) leave the list, the unread count and the synced table.
	// all are every withdrawn announcement; for since > 0, recent are the notification ids of
	// those withdrawn after sync number since, whose items a pull sends deleted. A withdrawal
	// touches every user's inbox table (AllKey, naming WithdrawalMarker), so a pull reads the
	// table after one and, its cursor past every unnamed change, still reads items by id.
	Withdrawn func(ctx context.Context, since int64) (all, recent []string, err error)
}

// WithdrawalMarker is the record id a withdrawal of announcement id names in its touch of the
// inbox table: no item has it (item ids hold a "/"), so a pull that reads its changes by id
// finds nothing under it, and the withdrawal's deletes come from Withdrawn.
func WithdrawalMarker(announcementID string) string { return "withdrawn:" + announcementID }

// withdrawnFilter returns the filter condition that leaves out the items of withdrawn
// announcements, nil when there are none (or nothing tells).
func (s *Store) withdrawnFilter(ctx context.Context) (bson.D, error) {
	if s.Withdrawn == nil {
		return nil, nil
	}
	all, _, err := s.Withdrawn(ctx, 0)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return bson.D{{Key: "data.announcement_id", Value: bson.D{{Key: "$nin", Value: all}}}}, nil
}

// Sync is the sync engine (datasync.Engine) as the inbox uses it.
type Sync interface {
	// Write runs fn with a fresh sequence number; it returns fn's error as is and unavailable
	// when the sequence cannot be allocated.
	Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error
}

var _ push.InboxWriter = (*Store)(nil)

// Collections owned by the inbox.
const (
	itemsColl = "inbox"       // one document per user and notification
	stateColl = "inbox_state" // one document per user who ever marked everything read
)

// itemDoc is an inbox document. Only read_at ever changes.
type itemDoc struct {
	ID             string            `bson:"_id"`
	UserID         string            `bson:"user_id"`
	NotificationID string            `bson:"notification_id"`
	Category       push.Category     `bson:"category"`
	Title          map[string]string `bson:"title"`
	Body           map[string]string `bson:"body"`
	DeepLink       string            `bson:"deep_link,omitempty"`
	Data           map[string]string `bson:"data,omitempty"`
	// CreatedAt is when the item reached the inbox (see Add). The list is ordered by it and the
	// read-all watermark compares with it.
	CreatedAt time.Time  `bson:"created_at"`
	ReadAt    *time.Time `bson:"read_at,omitempty"`
	// Seq is the sync sequence number of the item's last write and CreatedSeq of its creation;
	// zero on items written without a Sync engine.
	Seq        int64 `bson:"_seq,omitempty"`
	CreatedSeq int64 `bson:"_created_seq,omitempty"`
}

// stateDoc is a user's inbox_state document.
type stateDoc struct {
	UserID string `bson:"_id"`
	// ReadAllBefore is the last "mark all read": items created at or before it count as read.
	ReadAllBefore time.Time `bson:"read_all_before"`
	// Seq is the sync sequence number of the last "mark all read": a puller with an older cursor
	// gets all the user's items again, with their new read_at.
	Seq int64 `bson:"_seq,omitempty"`
}

// ItemID is the id of userID's item for a notification, the same id the push engine gives it.
func ItemID(userID, notificationID string) string { return userID + "/" + notificationID }

func (s *Store) items() *mongo.Collection { return s.DB.Collection(itemsColl) }
func (s *Store) state() *mongo.Collection { return s.DB.Collection(stateColl) }

// EnsureIndexes creates the indexes that serve a user's list and unread count, and their
// incremental sync pulls, on MongoDB.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	return mongodb.EnsureIndexes(ctx, s.items(), mongo.IndexModel{Keys: bson.D{
		{Key: "user_id", Value: 1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1},
	}}, mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "_seq", Value: 1}}})
}

// MaxWriteItems bounds the items Add writes in one sync write: a fan-out hands over thousands
// at once, and one sync write must finish within the sync engine's lease (10 s; see
// datasync.Engine.Write). On the rig's shared FerretDB a write of 2,000 items outlived it, was
// run again under a new number, found its items written and restamped them with a $in over
// 2,000 ids, which scans the collection, outlived the lease again, and never finished: the
// fan-out made no progress for minutes (internal/chaos/README.md).
const MaxWriteItems = 100

// Add implements push.InboxWriter: it inserts the items with unordered insertMany calls of at
// most MaxWriteItems, each one sync write, and an item whose id exists already keeps its stored
// state (read or not). An item is dated when it
// reaches the inbox (the later of its CreatedAt and now), not when its notification was
// enqueued: a scheduled notification then appears at the top of the inbox when it is delivered,
// and a "mark all read" done before it arrived does not cover it. It returns unavailable when
// the database cannot be written.
func (s *Store) Add(ctx context.Context, items []push.InboxItem) error {
	if len(items) == 0 {
		return nil
	}
	for i := range items {
		it := &items[i]
		if it.UserID == "" || it.NotificationID == "" || it.ID != ItemID(it.UserID, it.NotificationID) {
			return fmt.Errorf("add inbox items: item %q is not \"<user id>/<notification id>\"", it.ID)
		}
	}
	for chunk := range slices.Chunk(items, MaxWriteItems) {
		if err := s.write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
			return s.insert(ctx, chunk, seq)
		}); err != nil {
			return err
		}
	}
	return nil
}

// insert writes one Add batch stamped with seq. Items that exist already keep their state but
// take the new sequence number, so that a batch written again (a retried fan-out, or a sync
// write run again after its lease) is still delivered to every device.
func (s *Store) insert(ctx context.Context, items []push.InboxItem, seq int64) ([]datasync.Touch, error) {
	now := s.Now.Stored()
	docs := make([]any, len(items))
	touch := datasync.Touch{Table: SyncTableName}
	for i := range items {
		it := &items[i]
		created := it.CreatedAt.UTC().Truncate(time.Millisecond)
		if created.Before(now) {
			created = now
		}
		docs[i] = itemDoc{ID: it.ID, UserID: it.UserID, NotificationID: it.NotificationID, Category: it.Category,
			Title: it.Title, Body: it.Body, DeepLink: it.DeepLink, Data: it.Data, CreatedAt: created,
			Seq: seq, CreatedSeq: seq}
		key := datasync.UserKey(it.UserID)
		if !slices.Contains(touch.Keys, key) {
			touch.Keys = append(touch.Keys, key)
		}
		touch.Records = append(touch.Records, datasync.TouchedRecord{Key: key, ID: it.ID})
	}
	_, err := s.items().InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	dups, ok := duplicates(err)
	if err != nil && !ok {
		return nil, fmt.Errorf("add %d inbox items: %w", len(items), mongodb.Translate(err, "inbox item"))
	}
	if len(dups) > 0 && seq > 0 {
		if err := s.restamp(ctx, items, dups, seq); err != nil {
			return nil, fmt.Errorf("restamp %d inbox items: %w", len(dups), mongodb.Translate(err, "inbox item"))
		}
	}
	return []datasync.Touch{touch}, nil
}

// restamp stamps the existing items of a batch (at indexes dups) with seq. On FerretDB, which
// pushes down only a filter on _id alone, one update per item by its id: an $in over the ids
// reads the whole inbox, every user's (seconds after a fan-out to 10,000 users, on the rig).
func (s *Store) restamp(ctx context.Context, items []push.InboxItem, dups []int, seq int64) error {
	stamp := bson.D{{Key: "$max", Value: bson.D{{Key: "_seq", Value: seq}}}}
	if s.DB.FerretDB {
		for _, d := range dups {
			if err := s.restampOne(ctx, items[d].ID, stamp); err != nil {
				return err
			}
		}
		return nil
	}
	ids := make(bson.A, len(dups))
	for i, d := range dups {
		ids[i] = items[d].ID
	}
	_, err := s.items().UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, stamp)
	return err
}

// restampOne applies stamp to one item on FerretDB under the item's lock (see markRead): an
// update there writes back the whole document it read, so a restamp overlapping a mark would
// undo its read_at, or the mark the new _seq.
func (s *Store) restampOne(ctx context.Context, itemID string, stamp bson.D) error {
	unlock := s.DB.Lock("inbox:" + itemID)
	defer unlock()
	_, err := s.items().UpdateOne(ctx, bson.D{{Key: "_id", Value: itemID}}, stamp)
	return err
}

// duplicates returns the indexes of the documents an unordered insertMany found existing, and
// whether that was its only failure, that is, whether everything new was written.
func duplicates(err error) ([]int, bool) {
	if err == nil {
		return nil, true
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return nil, false
	}
	dups := make([]int, 0, len(bwe.WriteErrors))
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 && we.Code != 11001 && we.Code != 12582 {
			return nil, false
		}
		dups = append(dups, we.Index)
	}
	return dups, true
}

// write runs fn through the sync engine, or with sequence number 0 (no stamp) without one.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error {
	if s.Sync == nil {
		_, err := fn(ctx, 0)
		return err
	}
	return s.Sync.Write(ctx, fn)
}
