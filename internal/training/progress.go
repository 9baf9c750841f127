package training

import (
	"slices"

	"github.com/mportal/mportal/internal/apperr"
)

// Watch progress rules (issue #13 D): the merge every report goes through, whether it comes from
// the training_progress sync table (progress_sync.go) or the online route (ReportProgress).

// CompletionShare is the share of a video's duration that must have been watched (the union of
// the watched ranges, not the last position) for the video to count as completed.
const CompletionShare = 0.9

// maxReportRanges bounds the ranges of one report; a player reports a handful per session.
const maxReportRanges = 1000

// maxGridCells bounds the cells a video's ranges are kept on (see Grid), and so the stored
// ranges of one user's progress on one video to half of it: disjoint ranges need a gap of at
// least one cell between them. Without it, each report of 1,000 separate ranges made the stored
// document larger, and every later report re-read and rewrote it whole.
const maxGridCells = 1000

// Grid returns the granularity in milliseconds that watched ranges of a video of durationMS are
// kept at: the smallest of 1, 2 or 5 times a power of ten that cuts the video into at most
// maxGridCells cells (1 s for a video of 10 or 15 minutes, 100 ms for one of a minute).
func Grid(durationMS int64) int64 {
	for g := int64(1); ; g *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if g*m*maxGridCells >= durationMS {
				return g * m
			}
		}
	}
}

// Range is a watched span of a video, [StartMS, EndMS) in milliseconds from its start.
type Range struct {
	StartMS int64 `json:"start_ms" bson:"start_ms"`
	EndMS   int64 `json:"end_ms" bson:"end_ms"`
}

// Progress is one user's progress on one video: the watched ranges (sorted, disjoint, never
// shrinking), the last position with the client time it was reported at, and completion, which
// never goes back.
type Progress struct {
	Ranges         []Range `json:"ranges"`
	LastPositionMS int64   `json:"last_position_ms"`
	ReportedAtMS   int64   `json:"reported_at_ms"` // client time of the report LastPositionMS came from
	Completed      bool    `json:"completed"`
}

// Report is what a device sends, online or later from offline: ranges watched, the position it
// stopped at, and its own clock's time of the report.
type Report struct {
	Ranges         []Range
	LastPositionMS int64
	ReportedAtMS   int64
}

// WatchedMS is the total length of the watched ranges.
func (p Progress) WatchedMS() int64 {
	var n int64
	for _, r := range p.Ranges {
		n += r.EndMS - r.StartMS
	}
	return n
}

// Merge applies a report to p for a video of durationMS. Ranges are merged by union (clamped to
// the video and widened to whole cells of its Grid, so the stored ranges stay few; the cells a
// range touches are one set, so widening, like the union, is the same in any order and
// idempotent), so a replayed report changes nothing and reports merge the same in any order; the
// last position is the one of the latest report by client time (ties: the further position);
// completion is reached when the union covers CompletionShare of the duration and never goes
// back. A report with a range that is empty, reversed or negative, too many ranges or a
// negative position is invalid.
func Merge(p Progress, r Report, durationMS int64) (Progress, error) {
	if len(r.Ranges) > maxReportRanges {
		return p, apperr.Field("ranges", "at most %d ranges per report", maxReportRanges)
	}
	if r.LastPositionMS < 0 {
		return p, apperr.Field("last_position_ms", "the position must not be negative")
	}
	grid := Grid(durationMS)
	all := make([]Range, 0, len(p.Ranges)+len(r.Ranges))
	for _, rg := range p.Ranges { // widened again: stored before ranges were kept on cells, or for a longer revision
		if rg = widen(rg, grid, durationMS); rg.StartMS < rg.EndMS {
			all = append(all, rg)
		}
	}
	for _, rg := range r.Ranges {
		if rg.StartMS < 0 || rg.EndMS <= rg.StartMS {
			return p, apperr.Field("ranges", "a range needs 0 <= start_ms < end_ms")
		}
		if rg = widen(rg, grid, durationMS); rg.StartMS < rg.EndMS {
			all = append(all, rg)
		}
	}
	out := Progress{Ranges: union(all), LastPositionMS: p.LastPositionMS, ReportedAtMS: p.ReportedAtMS, Completed: p.Completed}
	if r.ReportedAtMS > p.ReportedAtMS || (r.ReportedAtMS == p.ReportedAtMS && r.LastPositionMS > p.LastPositionMS) {
		out.LastPositionMS, out.ReportedAtMS = min(r.LastPositionMS, durationMS), r.ReportedAtMS
	}
	if durationMS > 0 && float64(out.WatchedMS()) >= CompletionShare*float64(durationMS) {
		out.Completed = true
	}
	return out, nil
}

// widen returns rg grown to the grid cells it touches, ending at the video's end at most.
func widen(rg Range, grid, durationMS int64) Range {
	start := rg.StartMS - rg.StartMS%grid
	end := min(rg.EndMS+(grid-rg.EndMS%grid)%grid, durationMS)
	return Range{StartMS: start, EndMS: max(end, start)}
}

// union returns the ranges sorted and merged: overlapping or touching ranges become one.
func union(rs []Range) []Range {
	slices.SortFunc(rs, func(a, b Range) int {
		if a.StartMS != b.StartMS {
			return int(a.StartMS - b.StartMS)
		}
		return int(a.EndMS - b.EndMS)
	})
	out := []Range{}
	for _, r := range rs {
		if n := len(out); n > 0 && r.StartMS <= out[n-1].EndMS {
			out[n-1].EndMS = max(out[n-1].EndMS, r.EndMS)
			continue
		}
		out = append(out, r)
	}
	return out
}
