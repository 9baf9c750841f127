package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

func (c *Callbacks) decisions() *mongo.Collection { return c.DB.Collection(decisionsColl) }

// CallbackEventType is the type of the callback event.
const CallbackEventType = "approval.task.decided"

// callbackPayload is the body sent to the OA, in the Standard Webhooks shape {type, timestamp,
// data}.
type callbackPayload struct {
	Type      string       `json:"type"`
	Timestamp time.Time    `json:"timestamp"`
	Data      callbackData `json:"data"`
}

// callbackData is the decision as the OA receives it: its own ids, the action, who decided
// and the action_context it sent with the task, echoed unchanged.
type callbackData struct {
	Source        string    `json:"source"`
	InstanceID    string    `json:"instance_id"`
	TaskID        string    `json:"task_id"`
	Action        string    `json:"action"`
	Reason        string    `json:"reason"`
	EmployeeNo    string    `json:"employee_no"`
	Via           string    `json:"via"`
	DecidedAt     time.Time `json:"decided_at"`
	TaskVersion   int64     `json:"task_version"`
	ActionContext string    `json:"action_context"`
}

// callbackBody is the callback's JSON body. It depends on the decision only, so every attempt
// of one decision sends the same bytes.
func callbackBody(d *Decision) ([]byte, error) {
	return json.Marshal(callbackPayload{Type: CallbackEventType, Timestamp: d.DecidedAt, Data: callbackData{
		Source: d.Source, InstanceID: d.InstanceID, TaskID: d.TaskID, Action: d.Action, Reason: d.Reason,
		EmployeeNo: d.ByEmployeeNo, Via: d.Via, DecidedAt: d.DecidedAt, TaskVersion: d.TaskVersion,
		ActionContext: d.ActionContext,
	}})
}

// due reads the decisions whose next attempt is due, oldest first, through the callback
// queue. Decisions of disabled integrations are left out (they wait, pending, until an admin
// enables the integration), so that they never crowd out the others.
func (c *Callbacks) due(ctx context.Context) ([]callbackJob, error) {
	disabled, err := c.disabledSources(ctx)
	if err != nil {
		return nil, err
	}
	now := c.Now.Stored()
	filter := bson.D{{Key: "next_at", Value: bson.D{{Key: "$lte", Value: now}}}}
	if len(disabled) > 0 {
		filter = append(filter, bson.E{Key: "source", Value: bson.D{{Key: "$nin", Value: disabled}}})
	}
	cur, err := c.DB.Collection(callbackQueueColl).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "next_at", Value: 1}}).SetLimit(int64(c.batch())))
	if err != nil {
		return nil, fmt.Errorf("due callbacks: %w", mongodb.Translate(err, "callback"))
	}
	var entries []queueEntry
	if err := cur.All(ctx, &entries); err != nil {
		return nil, fmt.Errorf("due callbacks: %w", mongodb.Translate(err, "callback"))
	}
	jobs := make([]callbackJob, 0, len(entries))
	for _, e := range entries {
		var d Decision
		err := c.decisions().FindOne(ctx, bson.D{{Key: "_id", Value: e.ID}}).Decode(&d)
		switch {
		case mongodb.IsNotFound(err):
			err = c.dequeue(ctx, e.ID)
		case err != nil:
			err = fmt.Errorf("decision %s: %w", e.ID, mongodb.Translate(err, "decision"))
		case d.Callback.State != CallbackPending:
			err = c.dequeue(ctx, e.ID) // another engine finished it after we read the queue
		case d.Callback.NextAt.After(now):
			err = c.requeue(ctx, e.ID, d.Source, d.Callback.NextAt)
		default:
			job, jerr := callbackJobOf(&d)
			if jerr != nil {
				return nil, jerr
			}
			jobs = append(jobs, job)
		}
		if err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

func callbackJobOf(d *Decision) (callbackJob, error) {
	body, err := callbackBody(d)
	if err != nil {
		return callbackJob{}, fmt.Errorf("callback body of decision %s: %w", d.ID, err)
	}
	trigger := "schedule"
	if d.Callback.Replay {
		trigger = "replay"
	}
	return callbackJob{decisionID: d.ID, taskID: d.TaskID, integrationID: d.Source,
		attempts: d.Callback.Attempts, round: d.Callback.Round, trigger: trigger, body: body}, nil
}

// disabledSources lists the integrations that are switched off.
func (c *Callbacks) disabledSources(ctx context.Context) ([]string, error) {
	cur, err := c.DB.Collection(integrationsColl).Find(ctx, bson.D{{Key: "enabled", Value: false}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("disabled integrations: %w", mongodb.Translate(err, "integration"))
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("disabled integrations: %w", mongodb.Translate(err, "integration"))
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

// target reads an integration; not_found when there is none. Callbacks are signed with every
// active secret (one signature each), so an OA that is part way through a rotation accepts
// them with either key.
func (c *Callbacks) target(ctx context.Context, id string) (target, error) {
	var in Integration
	err := c.DB.Collection(integrationsColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&in)
	if err != nil {
		return target{}, fmt.Errorf("integration %s: %w", id, mongodb.Translate(err, "integration"))
	}
	t := target{url: in.CallbackURL, enabled: in.Enabled && in.CallbackURL != ""}
	for _, s := range in.Secrets {
		if _, ok := secretBytes(s.Key); !ok {
			return target{}, apperr.New(apperr.Internal, "integration %s has a malformed secret %s", id, s.ID)
		}
		t.secrets = append(t.secrets, s.Key)
	}
	return t, nil
}

// goneReason is the DisabledReason of an integration whose callback URL answered 410.
const goneReason = "the callback URL answered 410 Gone"

// disable turns an integration off after its OA answered 410 Gone.
func (c *Callbacks) disable(ctx context.Context, id string) error {
	_, err := c.DB.Collection(integrationsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "enabled", Value: false}, {Key: "disabled_reason", Value: goneReason},
			{Key: "updated_at", Value: c.Now.Stored()}}}})
	if err != nil {
		return fmt.Errorf("disable integration %s: %w", id, mongodb.Translate(err, "integration"))
	}
	c.log().Warn("approval: integration disabled: its callback URL answered 410 Gone", "integration", id)
	return nil
}
