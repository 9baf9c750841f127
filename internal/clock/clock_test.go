package clock_test

import (
	"testing"
	"time"

	"github.com/mportal/mportal/internal/clock"
)

func TestFunc(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	at := time.Date(2026, 3, 1, 17, 30, 0, 123456789, shanghai)
	f := clock.Func(func() time.Time { return at })

	t.Run("UTC keeps the instant at full precision, in UTC", func(t *testing.T) {
		got := f.UTC()
		if !got.Equal(at) || got.Location() != time.UTC || got.Nanosecond() != 123456789 {
			t.Fatalf("UTC() = %v, want %v in UTC", got, at)
		}
	})
	t.Run("Stored truncates to the millisecond, in UTC", func(t *testing.T) {
		got := f.Stored()
		want := time.Date(2026, 3, 1, 9, 30, 0, 123000000, time.UTC)
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("Stored() = %v, want %v", got, want)
		}
	})
	t.Run("a nil clock reads the wall clock", func(t *testing.T) {
		var wall clock.Func
		before := time.Now().Add(-time.Millisecond)
		got := wall.Stored()
		after := time.Now()
		if got.Before(before) || got.After(after) || got.Location() != time.UTC {
			t.Fatalf("nil Stored() = %v, want between %v and %v in UTC", got, before, after)
		}
	})
	t.Run("At takes the caller's time only on the wall clock", func(t *testing.T) {
		read := time.Date(2031, 1, 2, 3, 4, 5, 6, shanghai) // a time the caller read
		if got := f.At(read); !got.Equal(at) {
			t.Fatalf("a set clock: At = %v, want the clock's %v", got, at)
		}
		var wall clock.Func
		if got := wall.At(read); !got.Equal(read) || got.Location() != time.UTC {
			t.Fatalf("the wall clock: At = %v, want the caller's %v in UTC", got, read)
		}
		before := time.Now()
		if got := wall.At(time.Time{}); got.Before(before) || got.Location() != time.UTC {
			t.Fatalf("the wall clock without a time: At = %v, want now in UTC", got)
		}
	})
}
