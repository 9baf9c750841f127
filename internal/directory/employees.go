package directory

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// ActiveUsersByEmployeeNo returns the ids of the active users among employeeNos, keyed by the
// employee number as given (matched case-insensitively, as logins are); numbers with no user,
// or a disabled one, are absent. Two reads by _id whatever the count: the approvals integration
// resolves every event's approver with it. It returns unavailable when the directory cannot be
// read.
func (s *Users) ActiveUsersByEmployeeNo(ctx context.Context, employeeNos []string) (map[string]string, error) {
	out := make(map[string]string, len(employeeNos))
	if len(employeeNos) == 0 {
		return out, nil
	}
	keys := bson.A{}
	byKey := map[string][]string{}
	for _, no := range employeeNos {
		k := empKey(no)
		if _, seen := byKey[k]; !seen {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], no)
	}
	var claims []userKey
	cur, err := s.keys().Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
	if err == nil {
		err = cur.All(ctx, &claims)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve employee numbers: %w", mongodb.Translate(err, "user key"))
	}
	ids := bson.A{}
	for _, c := range claims {
		ids = append(ids, c.UserID)
	}
	if len(ids) == 0 {
		return out, nil
	}
	var users []User
	cur, err = s.users().Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err == nil {
		err = cur.All(ctx, &users)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve employee numbers: %w", mongodb.Translate(err, "user"))
	}
	for _, u := range users {
		// The user must still carry the key: a claim whose holder changed number is stale.
		if u.Status != StatusActive {
			continue
		}
		for _, no := range byKey[empKey(u.EmployeeNo)] {
			out[no] = u.ID
		}
	}
	return out, nil
}
