package approval

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/quiet"
)

// pendingTasks reads every open task.
func (r *Reminders) pendingTasks(ctx context.Context) ([]remindTask, error) {
	cur, err := r.DB.Collection(tasksColl).Find(ctx, bson.D{{Key: "open", Value: true}},
		options.Find().SetProjection(bson.D{{Key: "flow_code", Value: 1}, {Key: "title", Value: 1},
			{Key: "approver_user_id", Value: 1}, {Key: "approver_employee_no", Value: 1},
			{Key: "created_at", Value: 1}, {Key: "due_at", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("open tasks: %w", mongodb.Translate(err, "task"))
	}
	var docs []Task
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("open tasks: %w", mongodb.Translate(err, "task"))
	}
	out := make([]remindTask, 0, len(docs))
	for _, d := range docs {
		if d.ApproverUserID == "" {
			continue
		}
		out = append(out, remindTask{id: d.ID, flowCode: d.FlowCode, title: d.Title, approver: d.ApproverEmployeeNo,
			approverUserID: d.ApproverUserID, createdAt: d.CreatedAt, dueAt: d.DueAt})
	}
	return out, nil
}

// person reads a user's quiet hours: their push preferences, in the preferences' zone, else
// the user's directory zone (Zone), else UTC.
func (r *Reminders) person(ctx context.Context, userID string) (*person, error) {
	prefs, err := r.Prefs.Get(ctx, &auth.Principal{UserID: userID})
	if err != nil {
		return nil, fmt.Errorf("push preferences of %s: %w", userID, err)
	}
	tz := ""
	if prefs.Timezone == "" && r.Zone != nil {
		if tz, err = r.Zone(ctx, userID); err != nil {
			return nil, fmt.Errorf("time zone of %s: %w", userID, err)
		}
	}
	return &person{userID: userID, quiet: quiet.From(prefs, tz)}, nil
}

// taskDeepLink opens a task in the app.
func taskDeepLink(taskID string) string { return "mportal://approvals/" + taskID }

// digestDeepLink opens the approver's pending list.
const digestDeepLink = "mportal://approvals"
