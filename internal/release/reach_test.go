package release

import (
	"context"
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/push"
)

// directoryOf resolves audiences over a fixed list of active users, by the directory's rules
// (everybody, or by user id, role or department), each with one pushable device.
type directoryOf []struct{ id, department, role string }

func (d directoryOf) Members(_ context.Context, aud push.Audience) ([]directory.Member, error) {
	var out []directory.Member
	for _, u := range d {
		if aud.All || slices.Contains(aud.UserIDs, u.id) || slices.Contains(aud.Departments, u.department) || slices.Contains(aud.Roles, u.role) {
			out = append(out, directory.Member{UserID: u.id, Department: u.department, PushDevices: 1})
		}
	}
	return out, nil
}

func TestReach(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.svc.Members = directoryOf{{"u-1", "IT", "employee"}, {"u-2", "Sales", "employee"}, {"u-3", "Sales", "employee"}, {"u-4", "Ops", "ops"}}
	f.app(t, "portal")
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "alpha", ChannelInput{Departments: []string{"IT"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Invite(ctx, opsUser, "portal", "alpha", "u-4"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Invite(ctx, opsUser, "portal", "beta", "u-2"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, channel  string
		users, devices int
		everyone       bool
	}{
		{"stable reaches every active user", "stable", 4, 4, true},
		{"alpha reaches its department and its invited members", "alpha", 2, 2, false},
		{"beta reaches its invited members only", "beta", 1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := f.svc.Reach(ctx, opsUser, "portal", tc.channel)
			if err != nil {
				t.Fatal(err)
			}
			if r.Users != tc.users || r.Devices != tc.devices || r.Everyone != tc.everyone {
				t.Fatalf("reach of %s = %+v, want %d users, %d devices, everyone %v", tc.channel, r, tc.users, tc.devices, tc.everyone)
			}
		})
	}
	t.Run("an employee may not ask", func(t *testing.T) {
		_, err := f.svc.Reach(ctx, employee, "portal", "stable")
		wantCode(t, err, apperr.Forbidden)
	})
	t.Run("an unknown channel is not found", func(t *testing.T) {
		_, err := f.svc.Reach(ctx, opsUser, "portal", "nightly")
		wantCode(t, err, apperr.NotFound)
	})
	t.Run("a build without an icon has none to show", func(t *testing.T) {
		b := f.fakeBuild(t, "portal", Android, 7)
		_, _, err := f.svc.BuildIcon(ctx, opsUser, "portal", b.PublicID)
		wantCode(t, err, apperr.NotFound)
		_, _, err = f.svc.BuildIcon(ctx, employee, "portal", b.PublicID)
		wantCode(t, err, apperr.Forbidden)
	})
}
