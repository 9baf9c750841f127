package directory

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// ActiveUsersByEmployeeNo returns the ids of the active users among employeeNos, keyed by the
// employee number as given (matched case-insensitively, as logins are); numbers with no user,
// or a disabled one, are absent. Each number is two reads by _id (its user_keys claim, then the
// user), the lookups the embedded database serves from an index, where a $in would scan: the
// approvals integration resolves every event's approver with it. It returns unavailable when
// the directory cannot be read.
func (s *Users) ActiveUsersByEmployeeNo(ctx context.Context, employeeNos []string) (map[string]string, error) {
	out := make(map[string]string, len(employeeNos))
	for _, no := range employeeNos {
		if _, done := out[no]; done {
			continue
		}
		var claim userKey
		err := s.keys().FindOne(ctx, bson.D{{Key: "_id", Value: empKey(no)}}).Decode(&claim)
		if mongodb.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("resolve employee number: %w", mongodb.Translate(err, "user key"))
		}
		u, err := s.load(ctx, claim.UserID)
		if apperr.Is(err, apperr.NotFound) {
			continue // the claim outlived its user
		}
		if err != nil {
			return nil, fmt.Errorf("resolve employee number: %w", err)
		}
		// The user must still carry the number: a claim whose holder changed number is stale.
		if u.Status == StatusActive && empKey(u.EmployeeNo) == empKey(no) {
			out[no] = u.ID
		}
	}
	return out, nil
}
