package rollout

// UpdateType says what an update check tells a device to do.
type UpdateType uint8

// The update types. The zero value is None so that an empty Decision means "nothing to do".
const (
	// None: the device is on the offered build, or newer, or nothing is offered.
	None UpdateType = iota
	// Optional: a newer build is offered; the user may postpone it.
	Optional
	// Required: a newer build is offered and the installed build is below the minimum supported one.
	Required
)

// String returns the wire name of t: "none", "optional" or "required".
func (t UpdateType) String() string {
	switch t {
	case Optional:
		return "optional"
	case Required:
		return "required"
	default:
		return "none"
	}
}

// Decision is the outcome of an update check for one device.
type Decision struct {
	Type UpdateType
	// Release is the newest release offered to this user, or nil when none is. It is set for None
	// decisions too (so the API can say which build is current); install it only when Type is not
	// None. It points into the Track's Releases slice.
	Release *Release
	// InstalledNewer reports that the installed build is newer than the offered release, e.g. a
	// beta tester who switched back to the stable channel. Such devices are never told to downgrade.
	InstalledNewer bool
	// Unsatisfiable reports that the installed build is below the track's MinBuild but no build at
	// or above MinBuild is offered to this user, typically because the minimum was raised before the
	// release reached the user's cohort. The update cannot be forced; the API should say so.
	Unsatisfiable bool
}

// Decide returns what the update check tells a user whose device runs installedBuild.
//
// The offered release is the newest (highest build) release that is Completed, or Active with the
// user in its cohort; halted releases are skipped, so halting the newest release, even at 100%,
// serves the previous one again. Among equal builds the first in t.Releases wins. Decide does not
// allocate.
func Decide(t Track, userID string, installedBuild int64) Decision {
	var offered *Release
	for i := range t.Releases {
		r := &t.Releases[i]
		// Checking the build first skips hashing releases that could not win anyway.
		if offered != nil && r.Build <= offered.Build {
			continue
		}
		if r.offeredTo(userID) {
			offered = r
		}
	}

	d := Decision{Release: offered}
	belowMin := installedBuild < t.MinBuild
	switch {
	case offered == nil:
	case offered.Build > installedBuild:
		d.Type = Optional
		if belowMin {
			d.Type = Required
		}
	case offered.Build < installedBuild:
		d.InstalledNewer = true
	}
	d.Unsatisfiable = belowMin && (offered == nil || offered.Build < t.MinBuild)
	return d
}
