package announce

import (
	"cmp"
	"context"
	"slices"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// Estimate is the reach an audience would have if an announcement were published to it now.
type Estimate struct {
	// Users counts the active users the audience selects.
	Users int `json:"users"`
	// PushDevices counts their devices that can take a push.
	PushDevices int `json:"push_devices"`
	// ByDepartment counts the users by department (Read and Acknowledged stay zero).
	ByDepartment []DepartmentStats `json:"by_department"`
}

// EstimateReach counts the users and devices aud reaches now, with the directory's audience
// rules (Members, the rules publication and Stats use), so that ops see whom an announcement
// will reach before they publish it. It returns forbidden unless the actor has role ops, invalid
// (with the audience field) for an audience that Create would refuse, and unavailable when the
// directory cannot be read.
func (s *Service) EstimateReach(ctx context.Context, actor *auth.Principal, aud Audience) (_ *Estimate, err error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	aud, err = validAudience(aud)
	if err != nil {
		return nil, err
	}
	defer apperr.Wrapf(&err, "estimate reach")
	members, err := s.Members.Members(ctx, aud.push())
	if err != nil {
		return nil, err
	}
	e := &Estimate{Users: len(members), ByDepartment: []DepartmentStats{}}
	depts := map[string]int{}
	for _, m := range members {
		e.PushDevices += m.PushDevices
		if _, ok := depts[m.Department]; !ok {
			depts[m.Department] = len(e.ByDepartment)
			e.ByDepartment = append(e.ByDepartment, DepartmentStats{Department: m.Department})
		}
		e.ByDepartment[depts[m.Department]].Audience++
	}
	slices.SortFunc(e.ByDepartment, func(a, b DepartmentStats) int { return cmp.Compare(a.Department, b.Department) })
	return e, nil
}

// Preview renders a Markdown body exactly as Create and Update store it (the same Markdown
// renderer and sanitizer) without storing anything. It returns forbidden unless the actor has
// role ops, invalid (field body) for a body Create would refuse (a reference to an image that
// was not uploaded included) and unavailable when the storage cannot be reached. Inline images
// come back as presigned URLs, as readers get them.
func (s *Service) Preview(ctx context.Context, actor *auth.Principal, body string) (bodyHTML string, err error) {
	if err := requireOps(actor); err != nil {
		return "", err
	}
	if err := validBody(body); err != nil {
		return "", err
	}
	bodyHTML, _, keys, err := render(body)
	if err != nil {
		return "", err
	}
	if err := s.checkImageRefs(ctx, keys); err != nil {
		return "", err
	}
	return s.resolveImages(ctx, bodyHTML), nil
}
