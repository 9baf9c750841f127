package feedback

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/auth"
)

// matcher is Filter.query as a predicate on a document, for lists served from the in-memory
// copy. It must select exactly what query selects; f must have passed query's validation.
func (f Filter) matcher() func(d *feedbackDoc) bool {
	var text *regexp.Regexp
	if f.Q != "" {
		// The same expression query sends; FerretDB matches it with Go's regexp too.
		text = regexp.MustCompile("(?i)" + regexp.QuoteMeta(f.Q))
	}
	from, to, _ := f.received() // validated by query
	return func(d *feedbackDoc) bool {
		if (!from.IsZero() && d.ReceivedAt.Before(from)) || (!to.IsZero() && !d.ReceivedAt.Before(to)) {
			return false
		}
		for _, c := range []struct{ want, got string }{
			{f.Status, d.Status}, {f.Category, d.Category}, {f.AppID, d.AppID}, {f.Channel, d.Channel},
			{f.Department, d.Department}, {f.AssigneeID, d.AssigneeID},
		} {
			if c.want != "" && c.want != c.got {
				return false
			}
		}
		return !d.Deleted && (f.Build == nil || *f.Build == d.Build) && (text == nil || text.MatchString(d.Text))
	}
}

// visibleThrough selects the live feedback carrying one of keys, as Mine's query does.
func visibleThrough(keys []string) func(d *feedbackDoc) bool {
	return func(d *feedbackDoc) bool {
		return !d.Deleted && slices.ContainsFunc(d.Keys, func(k string) bool { return slices.Contains(keys, k) })
	}
}

// pageCached is page served from the in-memory copy: on the embedded database a sorted,
// filtered find reads and decodes the whole collection in FerretDB for every page, so a list
// would slow down with every record stored. It returns false when the copy is off. The cursor
// comes parsed (after, afterID; afterID "" for the first page).
func (s *Service) pageCached(p *auth.Principal, match func(*feedbackDoc) bool, limit int, after time.Time, afterID string) ([]Feedback, string, bool) {
	docs, on := s.cache.snapshot()
	if !on {
		return nil, "", false
	}
	type hit struct {
		at int64 // received_at in ms, as the database stores it
		d  *feedbackDoc
	}
	var hits []hit
	for _, d := range docs {
		if !match(d) {
			continue
		}
		at := d.ReceivedAt.UnixMilli()
		if afterID != "" && (at > after.UnixMilli() || (at == after.UnixMilli() && d.ID >= afterID)) {
			continue
		}
		hits = append(hits, hit{at, d})
	}
	slices.SortFunc(hits, func(a, b hit) int { // newest received first, then _id descending
		if a.at != b.at {
			return cmp.Compare(b.at, a.at)
		}
		return strings.Compare(b.d.ID, a.d.ID)
	})
	next := ""
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1].d
		next = formatCursor(last.ReceivedAt, last.ID)
	}
	out := make([]Feedback, len(hits))
	for i, h := range hits {
		out[i] = s.view(h.d, p)
	}
	return out, next, true
}
