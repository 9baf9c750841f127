// Package clienttime checks and renders the times the apps send: Unix milliseconds read from a
// phone's clock (WatermelonDB stores dates that way). A phone's clock can be wrong, its value
// can be in seconds instead of milliseconds, or it can be anything at all, so every such time is
// checked where it enters the server, with the field named, and rendered defensively where it
// leaves.
package clienttime

import (
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

// Earliest is the earliest time accepted from a client, 2000-01-01T00:00:00Z in milliseconds:
// anything before it is a broken clock or a value in the wrong unit (seconds).
const Earliest int64 = 946_684_800_000

// MaxAhead is how far past the server's clock a client time may be: phones' clocks drift and
// time zones get misconfigured, but never by more than a day.
const MaxAhead = 24 * time.Hour

// Check returns an invalid error naming field unless ms is a Unix time in milliseconds between
// Earliest and MaxAhead after now (the server's injected clock).
func Check(field string, ms int64, now time.Time) error {
	latest := now.Add(MaxAhead).UnixMilli()
	if ms < Earliest || ms > latest {
		return apperr.Field(field, "%s must be Unix milliseconds between 2000-01-01 and %s (a day past the server's clock)",
			field, time.UnixMilli(latest).UTC().Format(time.RFC3339))
	}
	return nil
}

// Bounds of what Time returns: every time in them has a year JSON and RFC 3339 can write.
var (
	earliestRendered = time.Unix(0, 0).UTC()
	latestRendered   = time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
)

// Time renders a stored client time for a response. Times stored before they were checked (or
// by a bug) may lie outside what time.Time.MarshalJSON can write (years 0 to 9999), which would
// fail the whole response; Time clamps them to 1970-01-01 and 9999-12-31, so that one bad record
// cannot break a list.
func Time(ms int64) time.Time {
	switch {
	case ms < earliestRendered.UnixMilli():
		return earliestRendered
	case ms > latestRendered.UnixMilli():
		return latestRendered
	}
	return time.UnixMilli(ms).UTC()
}

// CheckWritable returns an invalid error naming field unless t falls between 1970-01-01 and
// 9999-12-31 UTC. It is for times sent in RFC 3339 (schedules, due dates): one with an offset
// can land outside the years time.Time.MarshalJSON writes (9999-12-31T23:30:00-01:00 is in the
// year 10000), and stored as it is (BSON keeps milliseconds), it failed every answer that held
// it with a 500.
func CheckWritable(field string, t time.Time) error {
	if t.Before(earliestRendered) || t.After(latestRendered) {
		return apperr.Field(field, "%s must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z", field)
	}
	return nil
}
