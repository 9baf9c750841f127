package announce

import (
	"context"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
)

func TestEstimateReach(t *testing.T) {
	s := &Service{Members: staticMembers{members: []directory.Member{
		{UserID: "u1", Department: "Sales", PushDevices: 2},
		{UserID: "u2", Department: "Field Ops", PushDevices: 0},
		{UserID: "u3", Department: "Sales", PushDevices: 1},
	}}}
	ctx := context.Background()

	t.Run("counts the members, their push devices and the members by department", func(t *testing.T) {
		e, err := s.EstimateReach(ctx, opsUser, Audience{Departments: []string{"Sales", "Field Ops"}})
		if err != nil {
			t.Fatal(err)
		}
		if e.Users != 3 || e.PushDevices != 3 || len(e.ByDepartment) != 2 ||
			e.ByDepartment[0] != (DepartmentStats{Department: "Field Ops", Audience: 1}) ||
			e.ByDepartment[1] != (DepartmentStats{Department: "Sales", Audience: 2}) {
			t.Errorf("estimate %+v", e)
		}
	})
	t.Run("refuses an audience Create would refuse, naming the field", func(t *testing.T) {
		for aud, field := range map[*Audience]string{
			{}:                          "audience",
			{Roles: []string{"pilot"}}:  "audience.roles",
			{Departments: []string{""}}: "audience.departments",
		} {
			_, err := s.EstimateReach(ctx, opsUser, *aud)
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != field {
				t.Errorf("%+v: %v, want invalid %s", *aud, err, field)
			}
		}
	})
	t.Run("is for ops only", func(t *testing.T) {
		admin := &auth.Principal{UserID: "a", Roles: []auth.Role{auth.RoleAdmin}}
		if _, err := s.EstimateReach(ctx, admin, Audience{All: true}); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("an admin estimated: %v", err)
		}
		if _, err := s.Preview(ctx, admin, "x"); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("an admin previewed: %v", err)
		}
	})
}

func TestPreviewRendersAsCreateStores(t *testing.T) {
	ctx := context.Background()
	s := &Service{}
	src := "Hello **team**\n\n<script>alert(1)</script>[x](javascript:alert(1))"
	got, err := s.Preview(ctx, opsUser, src)
	if err != nil {
		t.Fatal(err)
	}
	stored, _, _, _ := render(src)
	if got != stored || !strings.Contains(got, "<strong>team</strong>") || strings.Contains(got, "<script") || strings.Contains(got, "javascript:") {
		t.Errorf("preview %q, stored %q", got, stored)
	}
	if _, err := s.Preview(ctx, opsUser, "  "); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a blank body previewed: %v", err)
	}
}
