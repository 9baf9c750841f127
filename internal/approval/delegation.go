package approval

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clienttime"
	"github.com/mportal/mportal/internal/mongodb"
)

// maxDelegation is the longest delegation: long absences are a change of approver in the OA.
const maxDelegation = 90 * 24 * time.Hour

// DelegationInput names a delegate (by employee number) for [From, To).
type DelegationInput struct {
	Delegate string    `json:"delegate"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

// SetDelegation makes tasks that reach p during [From, To) go to the delegate instead, marked
// delegated_from p (tasks p holds already stay with p; a delegate's own delegation is not
// followed). It replaces p's previous delegation. It returns invalid naming delegate, from or
// to, and unavailable.
func (s *Service) SetDelegation(ctx context.Context, p *auth.Principal, in DelegationInput) (*Delegation, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	no := strings.TrimSpace(in.Delegate)
	if no == "" || len(no) > maxText {
		return nil, apperr.Field("delegate", "delegate must be an employee number")
	}
	switch {
	case in.From.IsZero():
		return nil, apperr.Field("from", "from is required (RFC 3339)")
	case clienttime.CheckWritable("from", in.From) != nil:
		return nil, clienttime.CheckWritable("from", in.From)
	case clienttime.CheckWritable("to", in.To) != nil:
		return nil, clienttime.CheckWritable("to", in.To)
	case in.To.IsZero() || !in.To.After(in.From):
		return nil, apperr.Field("to", "to is required and must be after from")
	case in.To.Sub(in.From) > maxDelegation:
		return nil, apperr.Field("to", "a delegation lasts at most 90 days")
	case !in.To.After(s.Now.Stored()):
		return nil, apperr.Field("to", "to must be in the future")
	}
	users, err := s.Directory.ActiveUsersByEmployeeNo(ctx, []string{no})
	if err != nil {
		return nil, err
	}
	delegate := users[no]
	switch delegate {
	case "":
		return nil, apperr.Field("delegate", "no active user has the employee number %s", no)
	case p.UserID:
		return nil, apperr.Field("delegate", "you cannot delegate to yourself")
	}
	d := &Delegation{UserID: p.UserID, DelegateUserID: delegate, DelegateEmployeeNo: no,
		From: in.From.UTC().Truncate(time.Millisecond), To: in.To.UTC().Truncate(time.Millisecond), UpdatedAt: s.Now.Stored()}
	_, err = s.coll(delegationsColl).ReplaceOne(ctx, bson.D{{Key: "_id", Value: p.UserID}}, d, options.Replace().SetUpsert(true))
	if err != nil {
		return nil, fmt.Errorf("set delegation of %s: %w", p.UserID, mongodb.Translate(err, "delegation"))
	}
	return d, nil
}

// Delegation returns p's delegation; not_found when there is none.
func (s *Service) Delegation(ctx context.Context, p *auth.Principal) (*Delegation, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	d, err := s.delegation(ctx, p.UserID)
	if err == nil && d == nil {
		err = apperr.New(apperr.NotFound, "no delegation")
	}
	return d, err
}

// DeleteDelegation ends p's delegation: new tasks reach p again (delegated tasks stay with the
// delegate). Deleting none is not an error.
func (s *Service) DeleteDelegation(ctx context.Context, p *auth.Principal) error {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "authentication required")
	}
	if _, err := s.coll(delegationsColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: p.UserID}}); err != nil {
		return fmt.Errorf("delete delegation of %s: %w", p.UserID, mongodb.Translate(err, "delegation"))
	}
	return nil
}

// delegation returns userID's delegation, or nil.
func (s *Service) delegation(ctx context.Context, userID string) (*Delegation, error) {
	var d Delegation
	err := s.coll(delegationsColl).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&d)
	if mongodb.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read delegation of %s: %w", userID, mongodb.Translate(err, "delegation"))
	}
	return &d, nil
}
