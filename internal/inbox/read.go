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
	count, err := s.items().CountDocuments(ctx, filter)
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
	// $min keeps an earlier read_at and sets a missing one: idempotent without a read first.
	res, err := s.items().UpdateOne(ctx,
		bson.D{{Key: "_id", Value: itemID}, {Key: "user_id", Value: p.UserID}},
		bson.D{{Key: "$min", Value: bson.D{{Key: "read_at", Value: s.now()}}}})
	if err != nil {
		return mongodb.Translate(err, "inbox item")
	}
	if res.MatchedCount == 0 {
		return notFound
	}
	return nil
}

// MarkAllRead marks every item the caller has now as read, in one write: it moves the caller's
// watermark to now (never back), and items created at or before it count as read. It returns
// unauthorized without a principal and unavailable when the database cannot be reached.
func (s *Store) MarkAllRead(ctx context.Context, p *auth.Principal) (err error) {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "authentication required")
	}
	defer apperr.Wrapf(&err, "mark the inbox of %s read", p.UserID)
	filter := bson.D{{Key: "_id", Value: p.UserID}}
	update := bson.D{{Key: "$max", Value: bson.D{{Key: "read_all_before", Value: s.now()}}}}
	_, err = s.state().UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	if mongodb.IsDuplicateKey(err) {
		// Two first-time upserts raced and the other inserted; now the document exists.
		_, err = s.state().UpdateOne(ctx, filter, update)
	}
	return mongodb.Translate(err, "inbox")
}

// readAllBefore returns the user's watermark, zero when they never marked everything read.
func (s *Store) readAllBefore(ctx context.Context, userID string) (time.Time, error) {
	var st stateDoc
	err := s.state().FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&st)
	switch {
	case mongodb.IsNotFound(err):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("read inbox state: %w", mongodb.Translate(err, "inbox"))
	}
	return st.ReadAllBefore.UTC(), nil
}
