package push

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// Notification is an event to announce to an audience: an inbox item for every audience user and
// a push to each of their reachable devices.
type Notification struct {
	// Key identifies the event ("approval:<request id>:<step>"); enqueuing the same Key twice
	// delivers once. It becomes the notification id.
	Key      string   `bson:"_id"`
	Category Category `bson:"category"`
	Audience Audience `bson:"audience"`
	// Title and Body are by locale ("zh-CN", "en"); a recipient whose locale is missing gets
	// zh-CN, then en.
	Title       map[string]string `bson:"title"`
	Body        map[string]string `bson:"body"`
	DeepLink    string            `bson:"deep_link,omitempty"`
	Data        map[string]string `bson:"data,omitempty"`
	CollapseKey string            `bson:"collapse_key,omitempty"`
	// NotBefore delays the delivery (scheduled announcements); zero means now.
	NotBefore time.Time `bson:"not_before"`
	// Silent makes a data-only push that shows nothing and writes no inbox item: the app handles
	// it in the background (an approval's push withdrawing the notification it replaces, by
	// CollapseKey). Title and Body may then be empty.
	Silent bool `bson:"silent,omitempty"`
	// Urgent delivers during the recipient's quiet hours although the category is not urgent:
	// a training reminder whose deadline falls before the quiet hours end.
	Urgent bool `bson:"urgent,omitempty"`
}

// notificationDoc is a push_notifications document. Only done_at is ever updated, once.
type notificationDoc struct {
	Notification `bson:",inline"`
	CreatedAt    time.Time  `bson:"created_at"`
	DoneAt       *time.Time `bson:"done_at,omitempty"`
}

// Limits on what a notification may carry; FCM rejects messages over 4 KB.
const (
	maxKeyLen   = 200
	maxTitleLen = 200
	maxBodyLen  = 1000
	maxDataLen  = 2000
)

// reservedData are the data keys the engine sets itself and those FCM refuses (with the prefixes
// "google." and "gcm.").
var reservedData = []string{"deep_link", "category", "notification_id", "from", "message_type", "collapse_key"}

// validate checks n and fills in defaults.
func (n *Notification) validate(now time.Time) error {
	switch {
	case n.Key == "" || len(n.Key) > maxKeyLen || strings.ContainsAny(n.Key, "\x00$"):
		return apperr.Field("key", "key must be 1 to %d characters without '$'", maxKeyLen)
	case !n.Category.Valid():
		return apperr.Field("category", "unknown category %q", n.Category)
	}
	if !n.Silent || len(n.Title)+len(n.Body) > 0 {
		if err := validText("title", n.Title, maxTitleLen); err != nil {
			return err
		}
		if err := validText("body", n.Body, maxBodyLen); err != nil {
			return err
		}
	}
	size := len(n.DeepLink) + len(n.CollapseKey)
	for k, v := range n.Data {
		if slices.Contains(reservedData, k) || strings.HasPrefix(k, "google.") || strings.HasPrefix(k, "gcm.") {
			return apperr.Field("data", "data key %q is reserved", k)
		}
		size += len(k) + len(v)
	}
	if size > maxDataLen {
		return apperr.Field("data", "deep link, collapse key and data exceed %d bytes", maxDataLen)
	}
	if n.NotBefore.IsZero() {
		n.NotBefore = now
	}
	n.NotBefore = n.NotBefore.UTC().Truncate(time.Millisecond)
	return nil
}

func validText(field string, m map[string]string, limit int) error {
	if len(m) == 0 {
		return apperr.Field(field, "%s needs at least one locale", field)
	}
	for locale, s := range m {
		if locale == "" || s == "" || utf8.RuneCountInString(s) > limit {
			return apperr.Field(field, "%s must be 1 to %d characters in every locale", field, limit)
		}
	}
	return nil
}

// Enqueue records n for delivery and returns its id (n.Key). created is false when the key was
// enqueued before; the earlier notification stands and nothing is sent twice. It returns invalid
// (with Field) for a bad notification and unavailable when the database cannot be reached.
func (e *Engine) Enqueue(ctx context.Context, n Notification) (id string, created bool, err error) {
	defer apperr.Wrapf(&err, "enqueue notification %s", n.Key)
	now := e.Now.Stored()
	if err := n.validate(now); err != nil {
		return "", false, err
	}
	doc := notificationDoc{Notification: n, CreatedAt: now}
	_, err = e.coll(notificationsColl).InsertOne(ctx, doc)
	switch {
	case err == nil:
		created = true
	case mongodb.IsDuplicateKey(err):
	default:
		return "", false, mongodb.Translate(err, "notification")
	}
	if created {
		if err := e.markLatest(ctx, &n, now); err != nil {
			return "", false, err
		}
	}
	// A crash between the two inserts leaves a notification without pending work; enqueuing it
	// again (the caller's retry) repairs that.
	if err := e.activate(ctx, n.Key, n.NotBefore, created); err != nil {
		return "", false, err
	}
	if created {
		e.Metrics.enqueued(n.Category)
	}
	e.poke()
	return n.Key, created, nil
}

// activate inserts the push_active document that makes the workers fan the notification out.
// For a repeated Enqueue it only does so when the notification is neither pending nor done; the
// completion sets done_at before it deletes push_active, so this order of reads never restarts a
// finished notification.
func (e *Engine) activate(ctx context.Context, id string, notBefore time.Time, created bool) error {
	if !created {
		err := e.coll(activeColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
		if err == nil {
			return nil
		}
		if !mongodb.IsNotFound(err) {
			return mongodb.Translate(err, "notification")
		}
		n, err := e.loadNotification(ctx, id)
		if err != nil {
			return err
		}
		if n.DoneAt != nil {
			return nil
		}
	}
	_, err := e.coll(activeColl).InsertOne(ctx, activeDoc{
		ID: id, State: stateFanout, NotBefore: notBefore, UpdatedAt: e.Now.Stored(),
	})
	if err != nil && !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("activate: %w", mongodb.Translate(err, "notification"))
	}
	return nil
}

// loadNotification reads one notification; a missing one is not_found.
func (e *Engine) loadNotification(ctx context.Context, id string) (*notificationDoc, error) {
	var n notificationDoc
	if err := e.coll(notificationsColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&n); err != nil {
		return nil, fmt.Errorf("load notification %s: %w", id, mongodb.Translate(err, "notification"))
	}
	return &n, nil
}
