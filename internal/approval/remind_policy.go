package approval

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// policiesColl holds one reminder policy per flow (_id = flow code).
const policiesColl = "approval_reminder_policies"

// ReminderPolicy says when the approvers of one flow's pending tasks are reminded and when a
// task is escalated. A flow without a policy gets no reminders (the daily digest still counts
// its tasks).
type ReminderPolicy struct {
	FlowCode string `bson:"_id" json:"flow_code"`
	// RemindAfterHours (X): remind X hours after the task arrived, then every X hours; 0 = off.
	RemindAfterHours float64 `bson:"remind_after_hours" json:"remind_after_hours"`
	// BeforeDueHours (Y): remind Y hours before the task's due_at; 0 = off.
	BeforeDueHours float64 `bson:"before_due_hours" json:"before_due_hours"`
	// MaxReminders (N) bounds the reminders of one task.
	MaxReminders int `bson:"max_reminders" json:"max_reminders"`
	// EscalateAfterHours (Z): after Z hours pending the EscalateTo list is notified once; 0 = off.
	EscalateAfterHours float64 `bson:"escalate_after_hours" json:"escalate_after_hours"`
	// EscalateTo are the employee numbers to notify (the directory has no managers, so this is
	// the flow's ops list).
	EscalateTo []string  `bson:"escalate_to" json:"escalate_to"`
	UpdatedAt  time.Time `bson:"updated_at" json:"updated_at"`
	UpdatedBy  string    `bson:"updated_by" json:"updated_by"`
}

// Limits of a policy.
const (
	maxPolicyHours = 24 * 90
	maxReminders   = 20
	maxEscalateTo  = 20
)

func (p *ReminderPolicy) validate() error {
	for _, h := range []struct {
		field string
		v     float64
	}{{"remind_after_hours", p.RemindAfterHours}, {"before_due_hours", p.BeforeDueHours}, {"escalate_after_hours", p.EscalateAfterHours}} {
		if h.v < 0 || h.v > maxPolicyHours || h.v != h.v {
			return apperr.Field(h.field, "%s must be 0 to %d", h.field, maxPolicyHours)
		}
	}
	if p.MaxReminders < 0 || p.MaxReminders > maxReminders {
		return apperr.Field("max_reminders", "max_reminders must be 0 to %d", maxReminders)
	}
	if len(p.EscalateTo) > maxEscalateTo {
		return apperr.Field("escalate_to", "at most %d people to escalate to", maxEscalateTo)
	}
	for _, e := range p.EscalateTo {
		if strings.TrimSpace(e) == "" || len(e) > 64 {
			return apperr.Field("escalate_to", "escalate_to holds employee numbers of 1 to 64 characters")
		}
	}
	if p.EscalateAfterHours > 0 && len(p.EscalateTo) == 0 {
		return apperr.Field("escalate_to", "escalate_after_hours needs someone to escalate to")
	}
	return nil
}

func canManagePolicies(actor *auth.Principal) error {
	if !actor.HasAnyRole(auth.RoleOps, auth.RoleAdmin) {
		return apperr.New(apperr.Forbidden, "reminder policies are managed by ops and admins")
	}
	return nil
}

// validFlowCode checks a flow code taken from a path.
func validFlowCode(code string) error {
	if code == "" || len(code) > 128 || strings.ContainsAny(code, "\x00$") {
		return apperr.Field("flow_code", "flow_code must be 1 to 128 characters without '$'")
	}
	return nil
}

// SetReminderPolicy creates or replaces the reminder policy of one flow. It returns forbidden
// unless the actor has role ops or admin, invalid (with Field) for a bad policy and unavailable
// when the database cannot be reached.
func (r *Reminders) SetReminderPolicy(ctx context.Context, actor *auth.Principal, p ReminderPolicy) (_ *ReminderPolicy, err error) {
	defer apperr.Wrapf(&err, "set reminder policy of flow %s", p.FlowCode)
	if err := canManagePolicies(actor); err != nil {
		return nil, err
	}
	if err := validFlowCode(p.FlowCode); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if p.EscalateTo == nil {
		p.EscalateTo = []string{}
	}
	p.UpdatedAt, p.UpdatedBy = r.Now.Stored(), actor.UserID
	_, err = r.DB.Collection(policiesColl).ReplaceOne(ctx, bson.D{{Key: "_id", Value: p.FlowCode}}, p,
		options.Replace().SetUpsert(true))
	if err != nil {
		return nil, mongodb.Translate(err, "reminder policy")
	}
	return &p, nil
}

// ReminderPolicies lists every flow's policy by flow code. It returns forbidden unless the actor
// has role ops or admin and unavailable when the database cannot be reached.
func (r *Reminders) ReminderPolicies(ctx context.Context, actor *auth.Principal) ([]ReminderPolicy, error) {
	if err := canManagePolicies(actor); err != nil {
		return nil, err
	}
	return r.policies(ctx)
}

// DeleteReminderPolicy removes one flow's policy (its tasks are no longer reminded). It returns
// forbidden unless the actor has role ops or admin, not_found when the flow has no policy and
// unavailable when the database cannot be reached.
func (r *Reminders) DeleteReminderPolicy(ctx context.Context, actor *auth.Principal, flowCode string) error {
	if err := canManagePolicies(actor); err != nil {
		return err
	}
	if err := validFlowCode(flowCode); err != nil {
		return err
	}
	res, err := r.DB.Collection(policiesColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: flowCode}})
	if err != nil {
		return fmt.Errorf("delete reminder policy %s: %w", flowCode, mongodb.Translate(err, "reminder policy"))
	}
	if res.DeletedCount == 0 {
		return apperr.New(apperr.NotFound, "flow %s has no reminder policy", flowCode)
	}
	return nil
}

func (r *Reminders) policies(ctx context.Context) ([]ReminderPolicy, error) {
	cur, err := r.DB.Collection(policiesColl).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("reminder policies: %w", mongodb.Translate(err, "reminder policy"))
	}
	out := []ReminderPolicy{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("reminder policies: %w", mongodb.Translate(err, "reminder policy"))
	}
	slices.SortFunc(out, func(a, b ReminderPolicy) int { return strings.Compare(a.FlowCode, b.FlowCode) })
	return out, nil
}

// reminderTimes are the times at which reminders 1..N of a task created at created (due at due,
// when set) fall due under p: every X hours after created, and Y hours before due, in order,
// the first N of them.
func (p *ReminderPolicy) reminderTimes(created time.Time, due *time.Time) []time.Time {
	if p.MaxReminders == 0 {
		return nil
	}
	var ts []time.Time
	if p.BeforeDueHours > 0 && due != nil {
		if t := due.Add(-hours(p.BeforeDueHours)); t.After(created) {
			ts = append(ts, t)
		}
	}
	if p.RemindAfterHours > 0 {
		step := hours(p.RemindAfterHours)
		for k := 1; k <= p.MaxReminders; k++ {
			ts = append(ts, created.Add(time.Duration(k)*step))
		}
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	ts = slices.CompactFunc(ts, func(a, b time.Time) bool { return a.Equal(b) })
	if len(ts) > p.MaxReminders {
		ts = ts[:p.MaxReminders]
	}
	return ts
}

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }
