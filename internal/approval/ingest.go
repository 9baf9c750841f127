package approval

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// Ingest results.
const (
	ResultApplied   = "applied"   // the event changed something
	ResultStale     = "stale"     // the event was valid but older than (or equal to) what is stored
	ResultDuplicate = "duplicate" // the webhook-id was seen and applied before: acknowledged without effect
)

// IngestResult is the answer to an accepted event.
type IngestResult struct {
	EventID string `json:"event_id"`
	Result  string `json:"result"`
}

// Ingest receives one signed event of source: it checks the integration and the signature,
// acknowledges a webhook-id it has applied before without effect, validates the whole payload
// and resolves its approver before writing anything, stores the event (the replay guard and
// the audit trail), applies it and marks it applied — all within the request: applying is a
// handful of indexed writes, well within the OA's timeout, and the OA learns of a failure
// (5xx) and redelivers. A redelivered event that was stored but not applied (a crash between
// the two) is applied then; applying is idempotent by version.
//
// It returns not_found for an unknown source, forbidden for a disabled one, unauthorized
// (naming the header) for a bad, stale or missing signature, invalid naming the field for a
// bad payload, unknown_approvers (Data {"employee_nos": [...]}) when the directory lacks the
// approver, and unavailable when the database cannot be reached.
func (s *Service) Ingest(ctx context.Context, source string, h Headers, body []byte) (*IngestResult, error) {
	ig, err := s.integration(ctx, source)
	if err != nil {
		return nil, err
	}
	if !ig.Enabled {
		return nil, apperr.New(apperr.Forbidden, "integration %s is disabled", source)
	}
	now := s.Now.Stored()
	if err := Verify(h, body, ig.Secrets, now); err != nil {
		return nil, err
	}
	s.purgeEvents(ctx, now)
	key := EventKey(source, h.ID)
	res := &IngestResult{EventID: h.ID, Result: ResultDuplicate}
	var seen Event
	err = s.coll(eventsColl).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&seen)
	switch {
	case err == nil && seen.AppliedAt != nil:
		return res, nil
	case err != nil && !mongodb.IsNotFound(err):
		return nil, fmt.Errorf("read event %s: %w", key, mongodb.Translate(err, "event"))
	}
	p, err := parsePayload(body)
	if err != nil {
		return nil, err
	}
	approvers, err := s.approvers(ctx, p)
	if err != nil {
		return nil, err
	}
	ev := Event{ID: key, Source: source, WebhookID: h.ID, Type: p.Type, Body: string(body), ReceivedAt: now,
		ExpiresAt: now.Add(EventRetention)}
	if _, err := s.coll(eventsColl).InsertOne(ctx, ev); err != nil && !mongodb.IsDuplicateKey(err) {
		return nil, fmt.Errorf("store event %s: %w", key, mongodb.Translate(err, "event"))
	}
	changed, err := s.apply(ctx, source, p, approvers)
	if err != nil {
		return nil, err
	}
	if _, err := s.coll(eventsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "applied_at", Value: s.Now.Stored()}}}}); err != nil {
		return nil, fmt.Errorf("mark event %s applied: %w", key, mongodb.Translate(err, "event"))
	}
	res.Result = ResultStale
	if changed {
		res.Result = ResultApplied
	}
	return res, nil
}

// approvers resolves the approver of a task event to a user id, by employee number. An
// employee number the directory does not know (or whose user is disabled) is unknown_approvers.
func (s *Service) approvers(ctx context.Context, p *Payload) (map[string]string, error) {
	if p.Data.Task == nil {
		return nil, nil
	}
	nos := []string{p.Data.Task.ApproverEmployeeNo}
	found, err := s.Directory.ActiveUsersByEmployeeNo(ctx, nos)
	if err != nil {
		return nil, err
	}
	var unknown []string
	for _, no := range nos {
		if found[no] == "" && !slices.Contains(unknown, no) {
			unknown = append(unknown, no)
		}
	}
	if len(unknown) > 0 {
		return nil, &apperr.Error{Code: apperr.UnknownApprovers, Field: "data.task.approver_employee_no",
			Message: "no active mportal user has the employee number(s) " + strings.Join(unknown, ", "),
			Data:    map[string][]string{"employee_nos": unknown}}
	}
	return found, nil
}

// purgeEvents deletes events older than EventRetention, at most once a minute. A failure is
// ignored: the next request tries again and stale rows only cost space.
func (s *Service) purgeEvents(ctx context.Context, now time.Time) {
	last := s.purged.Load()
	if now.UnixMilli()-last < time.Minute.Milliseconds() || !s.purged.CompareAndSwap(last, now.UnixMilli()) {
		return
	}
	_, _ = s.coll(eventsColl).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}})
}
