package directory

import (
	"context"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// ActiveUsers returns every active user in id order, without password hashes: the roster that
// reports count (the training completion report's "assigned"). It is for the server's own
// reports, not an endpoint: callers check the reader's role. It returns unavailable when the
// directory cannot be read.
func (s *Users) ActiveUsers(ctx context.Context) ([]User, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).
		SetProjection(bson.D{{Key: "password_hash", Value: 0}})
	return mongodb.FindAll[User](ctx, s.users(), bson.D{{Key: "status", Value: StatusActive}}, "active user", opts)
}

// RosterUser is an active user as reports list them: who, and what decides their audiences.
type RosterUser struct {
	ID         string
	EmployeeNo string
	Name       string
	Department string
	Roles      []string
}

// ActiveRoster returns every active user in id order with only what reports need. With View set
// (the embedded database: this process is the only writer) it reads the in-memory directory and
// no document; otherwise it reads the users collection as ActiveUsers does, which at 10,000
// users took over a second on the embedded database. Like ActiveUsers it is for the server's
// own reports; callers check the reader's role.
func (s *Users) ActiveRoster(ctx context.Context) ([]RosterUser, error) {
	if s.View != nil {
		return s.View.activeRoster(ctx)
	}
	list, err := s.ActiveUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]RosterUser, len(list))
	for i, u := range list {
		out[i] = RosterUser{ID: u.ID, EmployeeNo: u.EmployeeNo, Name: u.Name, Department: u.Department,
			Roles: roleStrings(u.Roles)}
	}
	return out, nil
}

// activeRoster is ActiveRoster from the view, loading it first if need be.
func (v *RecipientView) activeRoster(ctx context.Context) ([]RosterUser, error) {
	if err := v.ensure(ctx); err != nil {
		return nil, err
	}
	v.mu.RLock()
	out := make([]RosterUser, 0, len(v.users))
	for id, u := range v.users {
		if u.Status != StatusActive {
			continue
		}
		out = append(out, RosterUser{ID: id, EmployeeNo: u.EmployeeNo, Name: u.Name, Department: u.Department,
			Roles: slices.Clone(u.Roles)})
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b RosterUser) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
