package inbox

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/i18n"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
)

// Page sizes of List.
const (
	DefaultLimit = 50
	MaxLimit     = 100
)

// Item is an inbox item as its owner sees it, in the owner's locale.
type Item struct {
	// ID is the notification's id; it names the item within its owner's inbox.
	ID       string        `json:"id"`
	Category push.Category `json:"category"`
	Title    string        `json:"title"`
	Body     string        `json:"body"`
	DeepLink string        `json:"deep_link"`
	// Data carries the ids the app needs to open the item; never nil.
	Data      map[string]string `json:"data"`
	CreatedAt time.Time         `json:"created_at"`
	// ReadAt is when the item was marked read or, for an item covered by "mark all read", the
	// last time everything was marked read; nil while unread.
	ReadAt *time.Time `json:"read_at"`
	Read   bool       `json:"read"`
}

// List returns one page of the caller's items, newest first, and the cursor of the next page
// ("" on the last one). limit 0 means DefaultLimit and is capped at MaxLimit; cursor is the
// previous page's next cursor. It returns unauthorized without a principal, invalid (with Field
// "limit" or "cursor") for bad paging, and unavailable when the database cannot be reached.
func (s *Store) List(ctx context.Context, p *auth.Principal, limit int, cursor string) (items []Item, next string, err error) {
	if p == nil {
		return nil, "", apperr.New(apperr.Unauthorized, "authentication required")
	}
	switch {
	case limit < 0:
		return nil, "", apperr.Field("limit", "limit must be between 1 and %d", MaxLimit)
	case limit == 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	filter := bson.D{{Key: "user_id", Value: p.UserID}}
	if cursor != "" {
		at, notification, ok := parseCursor(cursor)
		if !ok {
			return nil, "", apperr.Field("cursor", "cursor must be the next_cursor of a previous page")
		}
		id := ItemID(p.UserID, notification)
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "created_at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}}},
		}})
	}
	defer apperr.Wrapf(&err, "list inbox of %s", p.UserID)
	withdrawn, err := s.withdrawnFilter(ctx)
	if err != nil {
		return nil, "", err
	}
	filter = append(filter, withdrawn...)
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit) + 1)
	cur, err := s.items().Find(ctx, filter, opts)
	if err != nil {
		return nil, "", mongodb.Translate(err, "inbox item")
	}
	var docs []itemDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, "", mongodb.Translate(err, "inbox item")
	}
	if len(docs) > limit {
		docs = docs[:limit]
		last := &docs[limit-1]
		next = formatCursor(last.CreatedAt, last.NotificationID)
	}
	readAll, err := s.readAllBefore(ctx, p.UserID)
	if err != nil {
		return nil, "", err
	}
	locale, err := s.locale(ctx, p.UserID)
	if err != nil {
		return nil, "", err
	}
	items = make([]Item, len(docs))
	for i := range docs {
		items[i] = docs[i].item(locale, readAll)
	}
	return items, next, nil
}

// item renders d for a reader of locale whose last "mark all read" was at readAll.
func (d *itemDoc) item(locale string, readAll time.Time) Item {
	it := Item{ID: d.NotificationID, Category: d.Category, Title: i18n.Pick(d.Title, locale),
		Body: i18n.Pick(d.Body, locale), DeepLink: d.DeepLink, Data: d.Data, CreatedAt: d.CreatedAt.UTC()}
	if it.Data == nil {
		it.Data = map[string]string{}
	}
	switch {
	case d.ReadAt != nil:
		at := d.ReadAt.UTC()
		it.ReadAt = &at
	case !readAll.IsZero() && !d.CreatedAt.After(readAll):
		it.ReadAt = &readAll
	}
	it.Read = it.ReadAt != nil
	return it
}

func (s *Store) locale(ctx context.Context, userID string) (string, error) {
	if s.Locale == nil {
		return "", nil
	}
	l, err := s.Locale(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("locale of %s: %w", userID, err)
	}
	return l, nil
}

// A cursor is "<created_at in Unix milliseconds>:<notification id>" in unpadded base64url: the
// position of the last item of a page in the (created_at, _id) order. It carries no user id;
// List rebuilds the item id from the caller's.
func formatCursor(at time.Time, notificationID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMilli(), 10) + ":" + notificationID))
}

func parseCursor(cursor string) (time.Time, string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return time.Time{}, "", false
	}
	ms, id, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" {
		return time.Time{}, "", false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, "", false
	}
	return time.UnixMilli(n).UTC(), id, true
}
