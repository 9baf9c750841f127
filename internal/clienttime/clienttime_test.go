package clienttime

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

func TestCheck(t *testing.T) {
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC) // any clock: the range follows it
	for _, tc := range []struct {
		name string
		ms   int64
		ok   bool
	}{
		{"accepts the server's now", now.UnixMilli(), true},
		{"accepts 2000-01-01 exactly", Earliest, true},
		{"accepts a clock a day fast", now.Add(MaxAhead).UnixMilli(), true},
		{"rejects a millisecond before 2000", Earliest - 1, false},
		{"rejects seconds instead of milliseconds", now.Unix(), false},
		{"rejects zero", 0, false},
		{"rejects a negative time", -1, false},
		{"rejects a clock more than a day fast", now.Add(MaxAhead).UnixMilli() + 1, false},
		{"rejects the year 10000", 253402300800000, false},
		{"rejects the largest int64", math.MaxInt64, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check("created_at", tc.ms, now)
			if tc.ok {
				if err != nil {
					t.Fatalf("Check(%d) = %v", tc.ms, err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || e.Field != "created_at" {
				t.Fatalf("Check(%d) = %#v, want invalid with field created_at", tc.ms, err)
			}
		})
	}
}

func TestTimeRendersEveryStoredValue(t *testing.T) {
	for _, ms := range []int64{math.MinInt64, -1, 0, Earliest, 253402300799999, 253402300800000, math.MaxInt64} {
		got := Time(ms)
		if _, err := json.Marshal(got); err != nil {
			t.Errorf("Time(%d) = %v does not marshal: %v", ms, got, err)
		}
		if _, err := got.MarshalText(); err != nil {
			t.Errorf("Time(%d) = %v does not marshal as text: %v", ms, got, err)
		}
	}
	if got, want := Time(1_740_800_000_123), time.UnixMilli(1_740_800_000_123).UTC(); !got.Equal(want) {
		t.Fatalf("Time of a sane value = %v, want %v", got, want)
	}
	if got := Time(253402300800000); got.Year() != 9999 {
		t.Fatalf("Time(year 10000) = %v, want the last instant of 9999", got)
	}
}
