package training_test

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/training"
)

const minute = 60_000

func merge(t *testing.T, p training.Progress, duration int64, reports ...training.Report) training.Progress {
	t.Helper()
	for _, r := range reports {
		var err error
		if p, err = training.Merge(p, r, duration); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func rg(a, b int64) training.Range { return training.Range{StartMS: a, EndMS: b} }

func TestProgressMerge(t *testing.T) {
	const d = 10 * minute
	t.Run("ranges merge by union and never shrink", func(t *testing.T) {
		p := merge(t, training.Progress{}, d,
			training.Report{Ranges: []training.Range{rg(0, 2*minute)}, ReportedAtMS: 1},
			training.Report{Ranges: []training.Range{rg(minute, 3*minute), rg(5*minute, 6*minute)}, ReportedAtMS: 2},
			training.Report{Ranges: []training.Range{rg(0, minute)}, ReportedAtMS: 3},
		)
		if want := []training.Range{rg(0, 3*minute), rg(5*minute, 6*minute)}; !reflect.DeepEqual(p.Ranges, want) {
			t.Fatalf("ranges = %v, want %v", p.Ranges, want)
		}
	})
	t.Run("completion needs 90% watched, not the last position past 90%", func(t *testing.T) {
		skipped := merge(t, training.Progress{}, d, training.Report{
			Ranges: []training.Range{rg(0, minute), rg(9*minute+30_000, d)}, LastPositionMS: d, ReportedAtMS: 1})
		if skipped.Completed {
			t.Fatalf("completed after seeking to the end: %+v", skipped)
		}
		watched := merge(t, skipped, d, training.Report{Ranges: []training.Range{rg(minute, 8*minute+30_000)}, ReportedAtMS: 2})
		if !watched.Completed || watched.WatchedMS() != 9*minute {
			t.Fatalf("not completed at 90%%: %+v", watched)
		}
	})
	t.Run("completion never goes back", func(t *testing.T) {
		done := merge(t, training.Progress{}, d, training.Report{Ranges: []training.Range{rg(0, d)}, ReportedAtMS: 1})
		again := merge(t, done, d, training.Report{Ranges: []training.Range{rg(0, 1000)}, LastPositionMS: 1000, ReportedAtMS: 2})
		if !again.Completed || again.LastPositionMS != 1000 {
			t.Fatalf("after a replay from the start: %+v", again)
		}
	})
	t.Run("the last position is the latest report's, whatever the arrival order", func(t *testing.T) {
		p := merge(t, training.Progress{}, d,
			training.Report{LastPositionMS: 4 * minute, ReportedAtMS: 200},
			training.Report{LastPositionMS: 7 * minute, ReportedAtMS: 100}, // an offline report arriving late
		)
		if p.LastPositionMS != 4*minute {
			t.Fatalf("last position = %d", p.LastPositionMS)
		}
	})
	t.Run("ranges past the end are clamped to the video", func(t *testing.T) {
		p := merge(t, training.Progress{}, d, training.Report{Ranges: []training.Range{rg(9*minute, 20*minute)}, ReportedAtMS: 1})
		if !reflect.DeepEqual(p.Ranges, []training.Range{rg(9*minute, d)}) {
			t.Fatalf("ranges = %v", p.Ranges)
		}
	})
	for _, bad := range []training.Report{
		{Ranges: []training.Range{rg(5, 5)}},
		{Ranges: []training.Range{rg(-1, 5)}},
		{LastPositionMS: -1},
	} {
		if _, err := training.Merge(training.Progress{}, bad, d); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Merge(%+v) = %v, want invalid", bad, err)
		}
	}
}

// TestProgressConverges applies the same reports in many orders, with replays, and expects one
// result: what devices push offline and out of order converges.
func TestProgressConverges(t *testing.T) {
	const d = 10 * minute
	rnd := rand.New(rand.NewPCG(1, 2))
	var reports []training.Report
	for i := range 12 {
		a := rnd.Int64N(d)
		reports = append(reports, training.Report{Ranges: []training.Range{rg(a, a+rnd.Int64N(2*minute)+1)},
			LastPositionMS: rnd.Int64N(d), ReportedAtMS: int64(1000 + i%5)})
	}
	want := merge(t, training.Progress{}, d, reports...)
	for range 50 {
		shuffled := append([]training.Report(nil), reports...)
		rnd.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		shuffled = append(shuffled, shuffled[:4]...) // replays
		if got := merge(t, training.Progress{}, d, shuffled...); !reflect.DeepEqual(got, want) {
			t.Fatalf("order-dependent result:\n got %+v\nwant %+v", got, want)
		}
	}
}

// TestProgressRangesStayFew: however many separate ranges devices report, a user's progress on
// a video keeps at most one range per two cells of its grid, so a row read and rewritten by
// every report stays small.
func TestProgressRangesStayFew(t *testing.T) {
	for d, want := range map[int64]int64{minute: 100, 10 * minute: 1000, 15 * minute: 1000, 20 * minute: 2000, 1000: 1, 0: 1} {
		if g := training.Grid(d); g != want {
			t.Errorf("Grid(%d) = %d, want %d", d, g, want)
		}
	}
	const d = 15 * minute
	p := training.Progress{}
	for i := range int64(20) {
		var rs []training.Range
		for j := range int64(1000) {
			a := j*(d/1000) + i*37
			rs = append(rs, rg(a, a+1))
		}
		p = merge(t, p, d, training.Report{Ranges: rs, ReportedAtMS: i})
	}
	if n := len(p.Ranges); n > 500 {
		t.Fatalf("%d stored ranges after 20 reports of 1,000 separate ones, want at most 500", n)
	}
	for i, r := range p.Ranges {
		if r.StartMS%1000 != 0 || (r.EndMS%1000 != 0 && r.EndMS != d) || (i > 0 && r.StartMS <= p.Ranges[i-1].EndMS) {
			t.Fatalf("range %d = %v: not on whole seconds, or not disjoint", i, r)
		}
	}
	t.Run("a range is widened to the cells it touches, ending at the video's end", func(t *testing.T) {
		p := merge(t, training.Progress{}, d, training.Report{Ranges: []training.Range{rg(1500, 2500), rg(d-10, d+5000)}})
		if want := []training.Range{rg(1000, 3000), rg(d-1000, d)}; !reflect.DeepEqual(p.Ranges, want) {
			t.Fatalf("ranges = %v, want %v", p.Ranges, want)
		}
	})
	t.Run("ranges stored before the grid are widened on the next report", func(t *testing.T) {
		old := training.Progress{Ranges: []training.Range{rg(10, 20), rg(30, 40), rg(d+1000, d+2000)}}
		p := merge(t, old, d, training.Report{Ranges: []training.Range{rg(5000, 6000)}})
		if want := []training.Range{rg(0, 1000), rg(5000, 6000)}; !reflect.DeepEqual(p.Ranges, want) {
			t.Fatalf("ranges = %v, want %v", p.Ranges, want)
		}
	})
}
