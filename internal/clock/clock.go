// Package clock is where services read the time. Each service has a field
// `Now clock.Func`; cmd/mportal gives every service the one clock of its Main, and tests give
// every service of a fixture the same test clock (testenv.Clock's Now), so that one code path
// never mixes a test's calendar with the wall clock.
package clock

import "time"

// Func is a time source. The zero value (nil) reads the wall clock, so a service built without
// one works; a func() time.Time such as time.Now or testenv.Clock's Now converts to it
// implicitly.
type Func func() time.Time

// UTC returns the current time in UTC at full precision. Services use it for durations (a push
// chunk that takes under a millisecond must not measure as zero) and for times they round
// further themselves (JWT times are whole seconds).
func (f Func) UTC() time.Time {
	if f == nil {
		return time.Now().UTC()
	}
	return f().UTC()
}

// Stored returns the current time as the database keeps it: UTC, truncated to the millisecond
// (BSON dates have millisecond precision). A time that is written and later compared with what
// is read back, or with what another instance wrote, is taken from Stored, so that the copy in
// memory and the stored one are equal.
func (f Func) Stored() time.Time {
	return f.UTC().Truncate(time.Millisecond)
}
