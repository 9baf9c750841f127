package feedback

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// MaxLoopDays is the longest range the feedback loop metrics cover.
const MaxLoopDays = 400

// Durations summarises how long something took, in hours: Count items measured, their median
// and 90th percentile (nearest rank: the smallest value with at least p of the items at or
// below it). Median and P90 are 0 when nothing was measured.
type Durations struct {
	Count       int     `json:"count"`
	MedianHours float64 `json:"median_hours"`
	P90Hours    float64 `json:"p90_hours"`
}

// AgeBucket is the number of open feedback items of an age, from (inclusive) to (exclusive).
type AgeBucket struct {
	Bucket string `json:"bucket"`
	Count  int    `json:"count"`
}

// MeTooItem is an open feedback item and how many users added a "me too".
type MeTooItem struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	Status     string `json:"status"`
	MeTooCount int    `json:"me_too_count"`
}

// LoopStats are the feedback loop numbers.
type LoopStats struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Created counts the feedback received in the range; the two durations are of those items.
	Created       int       `json:"created"`
	FirstResponse Durations `json:"first_response"`
	Resolution    Durations `json:"resolution"`
	// Open and Backlog are the feedback open now, whenever it was received.
	Open     int         `json:"open"`
	Backlog  []AgeBucket `json:"backlog"`
	TopMeToo []MeTooItem `json:"top_me_too"`
}

// backlogBuckets are the age buckets of the open backlog, upper bounds exclusive.
var backlogBuckets = []struct {
	name string
	upTo time.Duration
}{
	{"<1d", 24 * time.Hour}, {"1-3d", 72 * time.Hour}, {"3-7d", 7 * 24 * time.Hour},
	{"7-30d", 30 * 24 * time.Hour}, {">30d", math.MaxInt64},
}

// loopStamps are the fields a status change sets besides the status (in set): the first status
// change, and the closing time when the new status is resolved or wont_fix.
func loopStamps(d *feedbackDoc, set bson.D, now int64) bson.D {
	var out bson.D
	if d.FirstStatusAt == 0 {
		out = append(out, bson.E{Key: "first_status_at", Value: now})
	}
	for _, e := range set {
		if e.Key == "status" && (e.Value == StatusResolved || e.Value == StatusWontFix) {
			out = append(out, bson.E{Key: "closed_at", Value: now})
		}
	}
	return out
}

// Loop computes the feedback loop numbers for feedback received (server clock) from the UTC day
// from to the UTC day to, inclusive: time from receipt to the first ops response (the earlier of
// the first ops reply and the first status change) and to resolution (the item is resolved or
// wont_fix now; merged duplicates are not counted), the open backlog by age now, and the 10 open
// items with the most "me too"s. It returns forbidden unless actor is ops or admin, invalid
// (field from or to) for a bad range and unavailable when the database cannot be read.
func (s *Service) Loop(ctx context.Context, actor *auth.Principal, from, to string) (*LoopStats, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	start, end, err := loopRange(from, to)
	if err != nil {
		return nil, err
	}
	// Counted before reading, so a write landing during the read makes the answer stale.
	writes, now := s.loopWrites(), s.Now.Stored()
	if out, ok := s.loop.get(from, to, writes, now); ok {
		return out, nil
	}
	out := &LoopStats{From: from, To: to, Backlog: []AgeBucket{}, TopMeToo: []MeTooItem{}}
	created, openDocs, err := s.loopFeedback(ctx, start, end)
	if err != nil {
		return nil, err
	}
	firstReply, err := s.firstOpsReplies(ctx, created)
	if err != nil {
		return nil, err
	}
	var response, resolution []time.Duration
	for _, d := range created {
		received := d.ReceivedAt.UnixMilli()
		first := d.FirstStatusAt
		if r, ok := firstReply[d.ID]; ok && (first == 0 || r < first) {
			first = r
		}
		if first != 0 {
			response = append(response, time.Duration(max(first-received, 0))*time.Millisecond)
		}
		if (d.Status == StatusResolved || d.Status == StatusWontFix) && d.ClosedAt != 0 {
			resolution = append(resolution, time.Duration(max(d.ClosedAt-received, 0))*time.Millisecond)
		}
	}
	out.Created, out.FirstResponse, out.Resolution = len(created), summarise(response), summarise(resolution)

	out.Open = len(openDocs)
	counts := make([]int, len(backlogBuckets))
	for _, d := range openDocs {
		age := now.Sub(d.ReceivedAt)
		for i, b := range backlogBuckets {
			if age < b.upTo {
				counts[i]++
				break
			}
		}
		if n, _, _ := s.counts.of(d.ID, ""); n > 0 {
			out.TopMeToo = append(out.TopMeToo, MeTooItem{ID: d.ID, Title: title(d.Text), Status: d.Status, MeTooCount: n})
		}
	}
	for i, b := range backlogBuckets {
		out.Backlog = append(out.Backlog, AgeBucket{Bucket: b.name, Count: counts[i]})
	}
	slices.SortFunc(out.TopMeToo, func(a, b MeTooItem) int {
		if a.MeTooCount != b.MeTooCount {
			return b.MeTooCount - a.MeTooCount
		}
		return strings.Compare(a.ID, b.ID)
	})
	out.TopMeToo = out.TopMeToo[:min(len(out.TopMeToo), 10)]
	s.loop.put(from, to, writes, now, out)
	return out, nil
}

// loopRange checks a range of UTC days and returns its start and (exclusive) end.
func loopRange(from, to string) (time.Time, time.Time, error) {
	start, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return time.Time{}, time.Time{}, apperr.Field("from", "from must be a day, YYYY-MM-DD")
	}
	last, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return time.Time{}, time.Time{}, apperr.Field("to", "to must be a day, YYYY-MM-DD")
	}
	if last.Before(start) {
		return time.Time{}, time.Time{}, apperr.Field("to", "to must not be before from")
	}
	if last.Sub(start) >= MaxLoopDays*24*time.Hour {
		return time.Time{}, time.Time{}, apperr.Field("to", "a range covers at most %d days", MaxLoopDays)
	}
	return start, last.AddDate(0, 0, 1), nil
}

// summarise gives the count, median and 90th percentile (nearest rank) of ds in hours,
// rounded to 0.01.
func summarise(ds []time.Duration) Durations {
	out := Durations{Count: len(ds)}
	if len(ds) == 0 {
		return out
	}
	slices.Sort(ds)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return math.Round(ds[max(i, 0)].Hours()*100) / 100
	}
	out.MedianHours, out.P90Hours = rank(0.5), rank(0.9)
	return out
}

// title is the first line of text, at most 80 characters.
func title(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	if utf8.RuneCountInString(line) <= 80 {
		return line
	}
	return string([]rune(line)[:79]) + "…"
}
