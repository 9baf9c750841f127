package approval

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// statProjection are the task fields the statistics read.
var statProjection = bson.D{{Key: "flow_code", Value: 1}, {Key: "flow_name", Value: 1}, {Key: "node_id", Value: 1},
	{Key: "node_name", Value: 1}, {Key: "approver_employee_no", Value: 1}, {Key: "open", Value: 1},
	{Key: "created_at", Value: 1}, {Key: "due_at", Value: 1}, {Key: "decided_at", Value: 1},
	{Key: "decided_action", Value: 1}, {Key: "pushed_at", Value: 1}}

// statRowOf is a task as the statistics count it; via says where it was decided (from its
// Decision; "oa" when there is none).
func statRowOf(t *Task, via string) statRow {
	r := statRow{flowCode: t.FlowCode, flowName: t.FlowName, nodeID: t.NodeID, nodeName: t.NodeName,
		approver: t.ApproverEmployeeNo, createdAt: t.CreatedAt, dueAt: t.DueAt, decidedAt: t.DecidedAt,
		pushedAt: t.PushedAt, via: via}
	switch {
	case t.DecidedAction == ActionApprove && t.DecidedAt != nil:
		r.outcome = statApproved
	case t.DecidedAction == ActionReject && t.DecidedAt != nil:
		r.outcome = statRejected
	case t.Open:
		r.outcome = statPending
	default:
		r.outcome = statClosed
	}
	if r.via == "" {
		r.via = ViaOA
	}
	return r
}

// load reads the tasks that arrived in [from, to), where their decisions were made, and every
// approver's open tasks now.
func (s *Statistics) load(ctx context.Context, from, to time.Time) ([]statRow, map[string]int, error) {
	inRange := bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}
	cur, err := s.DB.Collection(tasksColl).Find(ctx, bson.D{{Key: "created_at", Value: inRange}},
		options.Find().SetProjection(statProjection))
	if err != nil {
		return nil, nil, fmt.Errorf("read tasks: %w", mongodb.Translate(err, "task"))
	}
	var tasks []Task
	if err := cur.All(ctx, &tasks); err != nil {
		return nil, nil, fmt.Errorf("read tasks: %w", mongodb.Translate(err, "task"))
	}
	// Decisions carry their task's creation time, so one range query finds them all.
	cur, err = s.DB.Collection(decisionsColl).Find(ctx, bson.D{{Key: "task_created_at", Value: inRange}},
		options.Find().SetProjection(bson.D{{Key: "via", Value: 1}}))
	if err != nil {
		return nil, nil, fmt.Errorf("read decisions: %w", mongodb.Translate(err, "decision"))
	}
	var decisions []Decision
	if err := cur.All(ctx, &decisions); err != nil {
		return nil, nil, fmt.Errorf("read decisions: %w", mongodb.Translate(err, "decision"))
	}
	via := make(map[string]string, len(decisions))
	for _, d := range decisions {
		via[d.ID] = d.Via
	}
	rows := make([]statRow, len(tasks))
	for i := range tasks {
		rows[i] = statRowOf(&tasks[i], via[tasks[i].ID])
	}
	cur, err = s.DB.Collection(tasksColl).Find(ctx, bson.D{{Key: "open", Value: true}},
		options.Find().SetProjection(bson.D{{Key: "approver_employee_no", Value: 1}}))
	if err != nil {
		return nil, nil, fmt.Errorf("read open tasks: %w", mongodb.Translate(err, "task"))
	}
	var open []Task
	if err := cur.All(ctx, &open); err != nil {
		return nil, nil, fmt.Errorf("read open tasks: %w", mongodb.Translate(err, "task"))
	}
	counts := map[string]int{}
	for _, t := range open {
		counts[t.ApproverEmployeeNo]++
	}
	return rows, counts, nil
}
