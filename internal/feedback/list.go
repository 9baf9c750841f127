package feedback

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// Paging of the lists.
const (
	DefaultLimit = 50
	MaxLimit     = 200
	maxQueryLen  = 200
)

// Filter selects feedback for the ops list and the export; empty fields match everything.
type Filter struct {
	Status, Category, AppID, Channel, Department, AssigneeID string
	Build                                                    *int64
	// Q searches the text, case-insensitively.
	Q string
	// From and To select the feedback received on those UTC days (YYYY-MM-DD, both included);
	// either may be empty.
	From, To string
	// Limit and Cursor page the list (not the export).
	Limit  int
	Cursor string
}

// query builds the database filter; invalid (with the query parameter) for bad values.
func (f Filter) query() (bson.D, error) {
	q := bson.D{{Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}}}
	if f.Status != "" && !validStatus(f.Status) {
		return nil, apperr.Field("status", "status must be one of %s", strings.Join(Statuses, ", "))
	}
	if f.Category != "" && !slices.Contains(Categories, f.Category) {
		return nil, apperr.Field("category", "category must be one of %s", strings.Join(Categories, ", "))
	}
	for _, c := range []struct{ field, value string }{
		{"status", f.Status}, {"category", f.Category}, {"app_id", f.AppID}, {"channel", f.Channel},
		{"department", f.Department}, {"assignee_id", f.AssigneeID},
	} {
		if c.value != "" {
			q = append(q, bson.E{Key: c.field, Value: c.value})
		}
	}
	if f.Build != nil {
		q = append(q, bson.E{Key: "build", Value: *f.Build})
	}
	if f.Q != "" {
		if len(f.Q) > maxQueryLen {
			return nil, apperr.Field("q", "q must be at most %d bytes", maxQueryLen)
		}
		if !utf8.ValidString(f.Q) {
			// Not text, and no expression: the in-memory match compiled it and panicked (a 500).
			return nil, apperr.Field("q", "q must be UTF-8 text")
		}
		q = append(q, bson.E{Key: "text", Value: bson.Regex{Pattern: regexp.QuoteMeta(f.Q), Options: "i"}})
	}
	from, to, err := f.received()
	if err != nil {
		return nil, err
	}
	var received bson.D
	if !from.IsZero() {
		received = append(received, bson.E{Key: "$gte", Value: from})
	}
	if !to.IsZero() {
		received = append(received, bson.E{Key: "$lt", Value: to})
	}
	if received != nil {
		q = append(q, bson.E{Key: "received_at", Value: received})
	}
	return q, nil
}

// received is the filter's range of received times [from, to) from its UTC days; zero for an
// open end. invalid (field from or to) for a date that is not YYYY-MM-DD or a reversed range.
func (f Filter) received() (from, to time.Time, err error) {
	day := func(field, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return time.Time{}, apperr.Field(field, "%s must be a date such as 2026-03-01", field)
		}
		return t, nil
	}
	if from, err = day("from", f.From); err != nil {
		return
	}
	if to, err = day("to", f.To); err != nil || to.IsZero() {
		return
	}
	to = to.AddDate(0, 0, 1)
	if !from.IsZero() && !to.After(from) {
		return time.Time{}, time.Time{}, apperr.Field("to", "to must not be before from")
	}
	return
}

// List returns ops a page of feedback matching f, newest received first, and the cursor of the
// next page ("" on the last). It returns forbidden unless actor is ops or admin and invalid
// (with the parameter) for a bad filter, limit or cursor.
func (s *Service) List(ctx context.Context, actor *auth.Principal, f Filter) ([]Feedback, string, error) {
	if err := requireOps(actor); err != nil {
		return nil, "", err
	}
	filter, err := f.query()
	if err != nil {
		return nil, "", err
	}
	return s.page(ctx, actor, filter, f.matcher(), f.Limit, f.Cursor)
}

// page reads one page of the feedback matching filter, newest received first: from the
// in-memory copy when it is on (match is filter as a predicate), else from the database.
func (s *Service) page(ctx context.Context, p *auth.Principal, filter bson.D, match func(*feedbackDoc) bool, limit int, cursor string) ([]Feedback, string, error) {
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 1 || limit > MaxLimit:
		return nil, "", apperr.Field("limit", "limit must be 1 to %d", MaxLimit)
	}
	var after time.Time
	var afterID string
	if cursor != "" {
		var err error
		if after, afterID, err = parseCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	if out, next, ok := s.pageCached(p, match, limit, after, afterID); ok {
		return out, next, nil
	}
	if cursor != "" {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "received_at", Value: bson.D{{Key: "$lt", Value: after}}}},
			bson.D{{Key: "received_at", Value: after}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: afterID}}}},
		}})
	}
	cur, err := s.sorted(ctx, filter, int64(limit+1))
	if err != nil {
		return nil, "", err
	}
	var docs []feedbackDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, "", fmt.Errorf("list feedback: %w", mongodb.Translate(err, "feedback"))
	}
	next := ""
	if len(docs) > limit {
		docs = docs[:limit]
		last := docs[limit-1]
		next = formatCursor(last.ReceivedAt, last.ID)
	}
	out := make([]Feedback, len(docs))
	for i := range docs {
		out[i] = s.view(&docs[i], p)
	}
	return out, next, nil
}

// sorted finds the feedback matching filter, newest received first; limit 0 means all.
func (s *Service) sorted(ctx context.Context, filter bson.D, limit int64) (*mongo.Cursor, error) {
	opts := options.Find().SetSort(bson.D{{Key: "received_at", Value: -1}, {Key: "_id", Value: -1}})
	if limit > 0 {
		opts.SetLimit(limit)
	}
	cur, err := s.coll(feedbackColl).Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("list feedback: %w", mongodb.Translate(err, "feedback"))
	}
	return cur, nil
}

func formatCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMilli(), 10) + "|" + id))
}

func parseCursor(c string) (time.Time, string, error) {
	bad := apperr.Field("cursor", "cursor is not one this server returned")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	ms, id, ok := strings.Cut(string(raw), "|")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || checkID("cursor", id) != nil {
		return time.Time{}, "", bad
	}
	return time.UnixMilli(n).UTC(), id, nil
}
