package directory

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/push"
)

// TestMembersCountTheAudience checks that the database and the in-memory view count the same
// members and pushable devices for every kind of audience (the view is what makes the console's
// release confirmations fast).
func TestMembersCountTheAudience(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			f := src.new(t)
			ann := f.user(t, "ann", "Sales", StatusActive, auth.RoleEmployee)
			bo := f.user(t, "bo", "HR", StatusActive, auth.RoleApprover)
			cy := f.user(t, "cy", "Sales", StatusDisabled, auth.RoleEmployee)
			di := f.user(t, "di", "HR", StatusActive, auth.RoleBetaTester)
			f.user(t, "ed", "Ops", StatusActive, auth.RoleEmployee) // no device
			f.device(t, ann, "phone", "stable", "tok-ann", true)
			f.device(t, ann, "tablet", "stable", "tok-ann-t", true)
			f.device(t, bo, "phone", "beta", "tok-bo", true)
			f.device(t, cy, "phone", "beta", "tok-cy", true)
			f.device(t, di, "phone", "stable", "", true)
			f.device(t, di, "tablet", "beta", "tok-di", false)
			tests := []struct {
				name string
				aud  push.Audience
				want []Member
			}{
				{"everybody active, with their pushable devices", push.Audience{All: true}, []Member{
					{UserID: "ann", Department: "Sales", PushDevices: 2}, {UserID: "bo", Department: "HR", PushDevices: 1},
					{UserID: "di", Department: "HR"}, {UserID: "ed", Department: "Ops"}}},
				{"a channel selects active users with a device on it", push.Audience{Channels: []string{"beta"}}, []Member{
					{UserID: "bo", Department: "HR", PushDevices: 1}, {UserID: "di", Department: "HR"}}},
				{"criteria unite", push.Audience{Departments: []string{"Ops"}, Roles: []string{"approver"}, UserIDs: []string{"cy", "ann"}}, []Member{
					{UserID: "ann", Department: "Sales", PushDevices: 2}, {UserID: "bo", Department: "HR", PushDevices: 1},
					{UserID: "ed", Department: "Ops"}}},
				{"nobody without criteria", push.Audience{}, nil},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := f.recipients.Members(f.ctx, tt.aud)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(tt.want, got); diff != "" {
						t.Fatalf("members (-want +got):\n%s", diff)
					}
				})
			}
			t.Run("a device unseen for 270 days takes no push", func(t *testing.T) {
				f.clock.Advance(271 * 24 * time.Hour)
				f.device(t, bo, "new-phone", "beta", "tok-bo-2", true)
				got, err := f.recipients.Members(f.ctx, push.Audience{UserIDs: []string{"ann", "bo"}})
				if err != nil {
					t.Fatal(err)
				}
				want := []Member{{UserID: "ann", Department: "Sales"}, {UserID: "bo", Department: "HR", PushDevices: 1}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("members (-want +got):\n%s", diff)
				}
			})
		})
	}
}
