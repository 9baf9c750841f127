package rollout

import (
	"math"
	"time"
)

// State is the lifecycle state of a staged rollout. The values are stored and sent as-is.
type State string

// The rollout states. A release starts Active at some percentage.
const (
	// Active releases are offered to the users in their cohort.
	Active State = "active"
	// Halted releases are offered to nobody; devices that already installed them keep them.
	Halted State = "halted"
	// Completed releases are offered to everybody, whatever their Percent says.
	Completed State = "completed"
)

// Release is one build published to a channel with a staged rollout.
type Release struct {
	ID string
	// Build is the build number (Android versionCode, iOS CFBundleVersion). Update checks compare
	// only build numbers, never version strings.
	Build int64
	// Version is the human-readable version name, for display only.
	Version string
	// Percent is the share of users, in (0, 100], that the rollout reaches while Active.
	Percent float64
	// Seed picks the cohort; it must stay fixed for the life of the release (the release ID is a
	// good choice) so that raising, halting and resuming keep the same users.
	Seed        string
	State       State
	PublishedAt time.Time
}

// Track is the set of releases of one (app, platform, channel) together with its forced-update
// floor. Releases may be in any order; Decide looks at build numbers.
type Track struct {
	Releases []Release
	// MinBuild is the minimum supported build: devices below it must update. Zero means no floor.
	MinBuild int64
}

// offeredTo reports whether r is offered to the user: completed releases to everybody, active
// ones to their cohort, halted (or unknown-state) ones to nobody.
func (r *Release) offeredTo(userID string) bool {
	switch r.State {
	case Completed:
		return true
	case Active:
		return InCohort(r.Seed, userID, r.Percent)
	default:
		return false
	}
}

// validPercent reports whether p is a percentage a rollout may be set to: in (0, 100].
func validPercent(p float64) bool {
	return p > 0 && p <= 100 && !math.IsNaN(p)
}
