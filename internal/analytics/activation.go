package analytics

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// Member is one account of the directory as activation needs it.
type Member struct {
	UserID     string
	Department string
	CreatedAt  time.Time
}

// Activation is the share of the directory's active accounts that have signed in at least once
// (any event counts: the server records every sign-in), overall and per department, and the
// time from account creation to the first event, in hours.
type Activation struct {
	Users                 int                    `json:"users"`
	Activated             int                    `json:"activated"`
	Share                 float64                `json:"share"`
	MedianHoursToFirstUse float64                `json:"median_hours_to_first_use"`
	P90HoursToFirstUse    float64                `json:"p90_hours_to_first_use"`
	Departments           []DepartmentActivation `json:"departments"`
}

// DepartmentActivation is one department's activation.
type DepartmentActivation struct {
	Department string  `json:"department"`
	Users      int     `json:"users"`
	Activated  int     `json:"activated"`
	Share      float64 `json:"share"`
}

// Activation joins the directory's members (Members, wired in cmd) with the first-seen time of
// each member's pseudonym. It returns forbidden for callers other than ops and admins and
// unavailable when the directory cannot be read.
func (s *Service) Activation(ctx context.Context, p *auth.Principal) (*Activation, error) {
	s.init()
	if err := canRead(p); err != nil {
		return nil, err
	}
	if s.Members == nil {
		return nil, apperr.New(apperr.Unavailable, "the directory is not connected to analytics")
	}
	members, err := s.Members(ctx)
	if err != nil {
		return nil, err
	}
	out := &Activation{Departments: []DepartmentActivation{}}
	byDept := map[string]*DepartmentActivation{}
	var waits []float64
	for _, m := range members {
		d := byDept[m.Department]
		if d == nil {
			d = &DepartmentActivation{Department: m.Department}
			byDept[m.Department] = d
		}
		out.Users++
		d.Users++
		first, ok := s.numbers.firstSeen("u", s.pseudonym("u", m.UserID))
		if !ok {
			continue
		}
		out.Activated++
		d.Activated++
		waits = append(waits, max(0, first.Sub(m.CreatedAt).Hours()))
	}
	out.Share = share(out.Activated, out.Users)
	slices.Sort(waits)
	if len(waits) > 0 {
		out.MedianHoursToFirstUse = waits[(len(waits)-1)/2]
		out.P90HoursToFirstUse = waits[(len(waits)*9+9)/10-1]
	}
	for _, d := range byDept {
		d.Share = share(d.Activated, d.Users)
		out.Departments = append(out.Departments, *d)
	}
	sort.Slice(out.Departments, func(i, j int) bool { return out.Departments[i].Department < out.Departments[j].Department })
	return out, nil
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}
