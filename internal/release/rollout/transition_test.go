package rollout_test

import (
	"math"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/release/rollout"
)

func TestTransitions(t *testing.T) {
	active := rel("110", 110, rollout.Active, 20)
	halted := rel("110", 110, rollout.Halted, 20)
	completed := rel("110", 110, rollout.Completed, 100)
	raise := func(p float64) func(rollout.Release) (rollout.Release, error) {
		return func(r rollout.Release) (rollout.Release, error) { return rollout.Raise(r, p) }
	}

	tests := []struct {
		name        string
		op          func(rollout.Release) (rollout.Release, error)
		from        rollout.Release
		wantCode    apperr.Code // "" means success
		wantField   string
		wantState   rollout.State
		wantPercent float64
	}{
		{"raises an active rollout", raise(50), active, "", "", rollout.Active, 50},
		{"raises an active rollout to 100%", raise(100), active, "", "", rollout.Active, 100},
		{"rejects lowering a rollout", raise(10), active, apperr.Invalid, "percent", "", 0},
		{"rejects raising to the current percentage", raise(20), active, apperr.Invalid, "percent", "", 0},
		{"rejects raising above 100%", raise(100.5), active, apperr.Invalid, "percent", "", 0},
		{"rejects a NaN percentage", raise(math.NaN()), active, apperr.Invalid, "percent", "", 0},
		{"rejects a negative percentage", raise(-1), active, apperr.Invalid, "percent", "", 0},
		{"rejects raising a halted rollout", raise(50), halted, apperr.Conflict, "", "", 0},
		{"rejects raising a completed rollout", raise(50), completed, apperr.Conflict, "", "", 0},
		{"halts an active rollout keeping its percentage", rollout.Halt, active, "", "", rollout.Halted, 20},
		{"halts a completed rollout", rollout.Halt, completed, "", "", rollout.Halted, 100},
		{"rejects a second halt", rollout.Halt, halted, apperr.Conflict, "", "", 0},
		{"resumes a halted rollout at its percentage", rollout.Resume, halted, "", "", rollout.Active, 20},
		{"rejects resuming an active rollout", rollout.Resume, active, apperr.Conflict, "", "", 0},
		{"rejects resuming a completed rollout", rollout.Resume, completed, apperr.Conflict, "", "", 0},
		{"completes an active rollout at 100%", rollout.Complete, active, "", "", rollout.Completed, 100},
		{"rejects completing a halted rollout", rollout.Complete, halted, apperr.Conflict, "", "", 0},
		{"rejects a second completion", rollout.Complete, completed, apperr.Conflict, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := tt.from
			got, err := tt.op(from)
			if from != tt.from {
				t.Fatalf("the transition modified its input: %+v", from)
			}
			if tt.wantCode != "" {
				e, ok := apperr.As(err)
				if !ok || e.Code != tt.wantCode || e.Field != tt.wantField {
					t.Fatalf("err = %v, want *apperr.Error code %s field %q", err, tt.wantCode, tt.wantField)
				}
				if got != tt.from {
					t.Fatalf("a rejected transition changed the release to %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got.State != tt.wantState || got.Percent != tt.wantPercent {
				t.Fatalf("got state %s at %v%%, want %s at %v%%", got.State, got.Percent, tt.wantState, tt.wantPercent)
			}
			if got.ID != tt.from.ID || got.Build != tt.from.Build || got.Seed != tt.from.Seed {
				t.Fatalf("the transition changed the release's identity: %+v", got)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := rel("110", 110, rollout.Active, 5)
	tests := []struct {
		name      string
		edit      func(*rollout.Release)
		wantField string // "" means valid
	}{
		{"accepts a staged release", func(*rollout.Release) {}, ""},
		{"accepts a release at 100%", func(r *rollout.Release) { r.Percent = 100 }, ""},
		{"rejects a zero build", func(r *rollout.Release) { r.Build = 0 }, "build"},
		{"rejects an empty seed", func(r *rollout.Release) { r.Seed = "" }, "seed"},
		{"rejects 0%", func(r *rollout.Release) { r.Percent = 0 }, "percent"},
		{"rejects more than 100%", func(r *rollout.Release) { r.Percent = 101 }, "percent"},
		{"rejects an unknown state", func(r *rollout.Release) { r.State = "paused" }, "state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid
			tt.edit(&r)
			err := rollout.Validate(r)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != tt.wantField {
				t.Fatalf("err = %v, want invalid on field %q", err, tt.wantField)
			}
		})
	}
}
