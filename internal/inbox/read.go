package inbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// UnreadCount returns how many of the caller's items are unread: not marked read and created
// after the last "mark all read". It returns unauthorized without a principal and unavailable
// when the database cannot be reached.
func (s *Store) UnreadCount(ctx context.Context, p *auth.Principal) (n int, err error) {
	if p == nil {
		return 0, apperr.New(apperr.Unauthorized, "authentication required")
	}
	defer apperr.Wrapf(&err, "count unread inbox items of %s", p.UserID)
	readAll, err := s.readAllBefore(ctx, p.UserID)
	if err != nil {
		return 0, err
	}
	filter := bson.D{{Key: "user_id", Value: p.UserID}, {Key: "read_at", Value: bson.D{{Key: "$exists", Value: false}}}}
	if !readAll.IsZero() {
		filter = append(filter, bson.E{Key: "created_at", Value: bson.D{{Key: "$gt", Value: readAll}}})
	}
	withdrawn, err := s.withdrawnFilter(ctx)
	if err != nil {
		return 0, err
	}
	count, err := s.items().CountDocuments(ctx, append(filter, withdrawn...))
	if err != nil {
		return 0, mongodb.Translate(err, "inbox item")
	}
	return int(count), nil
}

// MarkRead marks one of the caller's items read; itemID is "<user id>/<notification id>" (see
// ItemID). Marking an item twice keeps the first time. It returns unauthorized without a
// principal, not_found for an item that does not exist or is not the caller's, and unavailable
// when the database cannot be reached.
func (s *Store) MarkRead(ctx context.Context, p *auth.Principal, itemID string) (err error) {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "authentication required")
	}
	notFound := apperr.New(apperr.NotFound, "inbox item not found")
	// Checked before the database sees the id, and again by the filter: an id that is not the
	// caller's is never even looked up.
	if rest, ok := strings.CutPrefix(itemID, p.UserID+"/"); !ok || rest == "" {
		return notFound
	}
	defer apperr.Wrapf(&err, "mark inbox item %s read", itemID)
	return s.write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		matched, err := s.markRead(ctx, p.UserID, itemID, seq)
		switch {
		case err != nil:
			return nil, err
		case !matched:
			return nil, notFound
		}
		return []datasync.Touch{itemTouch(p.UserID, itemID)}, nil
	})
}

// itemTouch is the sync touch of a change to one of userID's items, naming it (see
// syncTable.Pull).
func itemTouch(userID string, itemIDs ...string) datasync.Touch {
	key := datasync.UserKey(userID)
	t := datasync.Touch{Table: SyncTableName, Keys: []string{key}}
	for _, id := range itemIDs {
		t.Records = append(t.Records, datasync.TouchedRecord{Key: key, ID: id})
	}
	return t
}

// markRead marks userID's item read now and stamps it with seq; it reports whether the item
// exists. $min keeps an earlier read_at and sets a missing one: idempotent without a read first.
// The lock, which restamp holds too, serializes the item's writes on FerretDB, whose updates
// write back the whole document they read: concurrent ones undo each other's read_at or _seq.
func (s *Store) markRead(ctx context.Context, userID, itemID string, seq int64) (bool, error) {
	unlock := s.DB.Lock("inbox:" + itemID)
	defer unlock()
	update := bson.D{{Key: "$min", Value: bson.D{{Key: "read_at", Value: s.Now.Stored()}}}}
	if seq > 0 {
		update = append(update, bson.E{Key: "$max", Value: bson.D{{Key: "_seq", Value: seq}}})
	}
	res, err := s.items().UpdateOne(ctx, bson.D{{Key: "_id", Value: itemID}, {Key: "user_id", Value: userID}}, update)
	if err != nil {
		return false, mongodb.Translate(err, "inbox item")
	}
	return res.MatchedCount > 0, nil
}

// MarkAllRead marks every item the caller has now as read, in one write: it moves the caller's
// watermark to now (never back), and items created at or before it count as read. It returns
// unauthorized without a principal and unavailable when the database cannot be reached.
func (s *Store) MarkAllRead(ctx context.Context, p *auth.Principal) (err error) {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "authentication required")
	}
	defer apperr.Wrapf(&err, "mark the inbox of %s read", p.UserID)
	return s.write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		unlock := s.DB.Lock("inbox-state:" + p.UserID)
		defer unlock()
		filter := bson.D{{Key: "_id", Value: p.UserID}}
		latest := bson.D{{Key: "read_all_before", Value: s.Now.Stored()}}
		if seq > 0 {
			latest = append(latest, bson.E{Key: "_seq", Value: seq})
		}
		update := bson.D{{Key: "$max", Value: latest}}
		_, err := s.state().UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
		if mongodb.IsDuplicateKey(err) {
			// Two first-time upserts raced and the other inserted; now the document exists.
			_, err = s.state().UpdateOne(ctx, filter, update)
		}
		if err != nil {
			return nil, mongodb.Translate(err, "inbox")
		}
		return []datasync.Touch{{Table: SyncTableName, Keys: []string{datasync.UserKey(p.UserID)}}}, nil
	})
}

// readAllBefore returns the user's watermark, zero when they never marked everything read.
func (s *Store) readAllBefore(ctx context.Context, userID string) (time.Time, error) {
	st, err := s.readState(ctx, userID)
	return st.ReadAllBefore, err
}

// readState returns the user's inbox state, zero when they never marked everything read.
func (s *Store) readState(ctx context.Context, userID string) (stateDoc, error) {
	var st stateDoc
	err := s.state().FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&st)
	switch {
	case mongodb.IsNotFound(err):
		return stateDoc{}, nil
	case err != nil:
		return stateDoc{}, fmt.Errorf("read inbox state: %w", mongodb.Translate(err, "inbox"))
	}
	st.ReadAllBefore = st.ReadAllBefore.UTC()
	return st, nil
}
