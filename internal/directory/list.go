package directory

import (
	"context"
	"fmt"
	"regexp"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// Page sizes of List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
	maxQuery         = 100
)

// ListFilter selects users for List. Empty fields do not filter. Query matches a substring of the
// employee number, name or e-mail, case-insensitively. Cursor is the next_cursor of the previous
// page.
type ListFilter struct {
	Department string
	Role       string
	Status     string
	Query      string
	Limit      int
	Cursor     string
}

// Department is a department name and how many users (active or not) belong to it.
type Department struct {
	Name      string `json:"name"`
	UserCount int    `json:"user_count"`
}

// List returns one page of users in id order (which is creation order) and the cursor of the
// next page, "" on the last one. Limit defaults to DefaultListLimit and is capped at
// MaxListLimit. It returns forbidden for non-admins and invalid (with Field naming the query
// parameter) for a bad filter.
func (s *Users) List(ctx context.Context, actor *auth.Principal, f ListFilter) ([]User, string, error) {
	if err := auth.RequireRole(actor, auth.RoleAdmin); err != nil {
		return nil, "", err
	}
	filter, limit, err := f.build()
	if err != nil {
		return nil, "", err
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit) + 1).
		SetProjection(bson.D{{Key: "password_hash", Value: 0}}) // a page of hashes is a page of risk
	cur, err := s.users().Find(ctx, filter, opts)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", mongodb.Translate(err, "user"))
	}
	users := []User{}
	if err := cur.All(ctx, &users); err != nil {
		return nil, "", fmt.Errorf("list users: %w", mongodb.Translate(err, "user"))
	}
	next := ""
	if len(users) > limit {
		users = users[:limit]
		next = users[limit-1].ID
	}
	return users, next, nil
}

func (f ListFilter) build() (bson.D, int, error) {
	limit := f.Limit
	switch {
	case limit < 0:
		return nil, 0, apperr.Field("limit", "limit must be between 1 and %d", MaxListLimit)
	case limit == 0:
		limit = DefaultListLimit
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	filter := bson.D{}
	if f.Cursor != "" {
		if len(f.Cursor) > 64 || !printable(f.Cursor) {
			return nil, 0, apperr.Field("cursor", "cursor is not valid")
		}
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: f.Cursor}}})
	}
	if f.Department != "" {
		filter = append(filter, bson.E{Key: "department", Value: f.Department})
	}
	if f.Role != "" {
		if !auth.ValidRole(auth.Role(f.Role)) {
			return nil, 0, apperr.Field("role", "unknown role %q", f.Role)
		}
		filter = append(filter, bson.E{Key: "roles", Value: f.Role})
	}
	if f.Status != "" {
		if err := validStatus(f.Status); err != nil {
			return nil, 0, err
		}
		filter = append(filter, bson.E{Key: "status", Value: f.Status})
	}
	if f.Query != "" {
		if utf8.RuneCountInString(f.Query) > maxQuery || !printable(f.Query) {
			return nil, 0, apperr.Field("q", "q must be at most %d characters", maxQuery)
		}
		// QuoteMeta: the query is a literal substring, never a pattern the caller controls.
		re := bson.D{{Key: "$regex", Value: regexp.QuoteMeta(f.Query)}, {Key: "$options", Value: "i"}}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "employee_no", Value: re}},
			bson.D{{Key: "name", Value: re}},
			bson.D{{Key: "email", Value: re}},
		}})
	}
	return filter, limit, nil
}

// Departments lists the departments that have users, by name, with their user counts. It returns
// forbidden for non-admins.
func (s *Users) Departments(ctx context.Context, actor *auth.Principal) ([]Department, error) {
	if err := auth.RequireRole(actor, auth.RoleAdmin); err != nil {
		return nil, err
	}
	pipeline := bson.A{
		bson.D{{Key: "$match", Value: bson.D{{Key: "department", Value: bson.D{{Key: "$ne", Value: ""}}}}}},
		bson.D{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: "$department"},
			{Key: "count", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
		bson.D{{Key: "$sort", Value: bson.D{{Key: "_id", Value: 1}}}},
	}
	cur, err := s.users().Aggregate(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("count departments: %w", mongodb.Translate(err, "department"))
	}
	var rows []struct {
		Name  string `bson:"_id"`
		Count int    `bson:"count"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("count departments: %w", mongodb.Translate(err, "department"))
	}
	out := make([]Department, 0, len(rows))
	for _, r := range rows {
		out = append(out, Department{Name: r.Name, UserCount: r.Count})
	}
	return out, nil
}
