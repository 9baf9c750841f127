package api

import (
	"context"
	"time"

	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/auth"
)

// ApprovalCallbacks is the delivery log of the decisions sent back to the OA systems, with
// manual replay (approval.Callbacks).
type ApprovalCallbacks interface {
	// Deliveries returns forbidden for non-admins, not_found for an unknown integration and
	// invalid (field limit) for a bad page size.
	Deliveries(ctx context.Context, actor *auth.Principal, integrationID string, limit int) ([]approval.Delivery, error)
	// Replay returns forbidden for non-admins and not_found for an unknown integration or a
	// delivery of another integration.
	Replay(ctx context.Context, actor *auth.Principal, integrationID, deliveryID string) (*approval.Replayed, error)
}

// ApprovalStats are the approval statistics for ops (approval.Statistics).
type ApprovalStats interface {
	// Stats returns forbidden unless the actor has role ops or admin and invalid (field from or
	// to) for a bad range.
	Stats(ctx context.Context, actor *auth.Principal, from, to time.Time) (*approval.Stats, error)
}

// ApprovalReminders are the per-flow reminder policies (approval.Reminders).
type ApprovalReminders interface {
	// ReminderPolicies returns forbidden unless the actor has role ops or admin.
	ReminderPolicies(ctx context.Context, actor *auth.Principal) ([]approval.ReminderPolicy, error)
	// SetReminderPolicy returns forbidden as above and invalid (with the field) for a bad policy.
	SetReminderPolicy(ctx context.Context, actor *auth.Principal, p approval.ReminderPolicy) (*approval.ReminderPolicy, error)
	// DeleteReminderPolicy returns forbidden as above and not_found for a flow without one.
	DeleteReminderPolicy(ctx context.Context, actor *auth.Principal, flowCode string) error
}
