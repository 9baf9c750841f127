package rollout

import "github.com/mportal/mportal/internal/apperr"

// Validate checks a release about to be published. It returns an invalid *apperr.Error naming the
// offending field.
func Validate(r Release) error {
	switch {
	case r.Build <= 0:
		return apperr.Field("build", "build number must be positive")
	case r.Seed == "":
		return apperr.Field("seed", "rollout seed must not be empty")
	case !validPercent(r.Percent):
		return apperr.Field("percent", "rollout percentage must be above 0 and at most 100")
	case r.State != Active && r.State != Halted && r.State != Completed:
		return apperr.Field("state", "unknown rollout state %q", r.State)
	}
	return nil
}

// Raise returns r with its rollout raised to percent. Rollouts only grow, because lowering one
// would take the update away from users who may already have it; halt the release instead. It
// returns invalid (field "percent") for a percentage that is not above the current one or outside
// (0, 100], and conflict when the release is not active.
func Raise(r Release, percent float64) (Release, error) {
	if r.State != Active {
		return r, apperr.New(apperr.Conflict, "cannot raise the rollout of a %s release", r.State)
	}
	if !validPercent(percent) {
		return r, apperr.Field("percent", "rollout percentage must be above 0 and at most 100")
	}
	if percent <= r.Percent {
		return r, apperr.Field("percent", "rollout percentage can only be raised; it is already %g%%", r.Percent)
	}
	r.Percent = percent
	return r, nil
}

// Halt returns r halted: it is no longer offered to anybody, and a halted 100% release lets the
// previous release be served again. It returns conflict when r is already halted.
func Halt(r Release) (Release, error) {
	if r.State == Halted {
		return r, apperr.New(apperr.Conflict, "release is already halted")
	}
	r.State = Halted
	return r, nil
}

// Resume returns r active again at its previous percentage, reaching the same users as before it
// was halted. It returns conflict when r is not halted.
func Resume(r Release) (Release, error) {
	if r.State != Halted {
		return r, apperr.New(apperr.Conflict, "cannot resume a %s release", r.State)
	}
	r.State = Active
	return r, nil
}

// Complete returns r rolled out to everybody. A halted release must be resumed first so that
// completing is always a deliberate step forward. It returns conflict when r is not active.
func Complete(r Release) (Release, error) {
	if r.State != Active {
		return r, apperr.New(apperr.Conflict, "cannot complete a %s release", r.State)
	}
	r.State = Completed
	r.Percent = 100
	return r, nil
}
