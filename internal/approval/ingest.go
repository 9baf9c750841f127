package approval

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// Ingest results: the answer to an event is accepted or duplicate; an accepted event's
// processing ends applied or stale (see EventStatus).
const (
	ResultAccepted  = "accepted"  // stored; the event worker applies it shortly
	ResultDuplicate = "duplicate" // the webhook-id was accepted before: acknowledged without effect
	ResultApplied   = "applied"   // processed: the event changed something
	ResultStale     = "stale"     // processed: the event was valid but older than (or equal to) what is stored
	// ResultRejected marks a stored event that could not be applied at all (one accepted by an
	// older version whose approver is no longer in the directory); it is not retried.
	ResultRejected = "rejected"
)

// IngestResult is the answer to an accepted event.
type IngestResult struct {
	EventID string `json:"event_id"`
	Result  string `json:"result"`
}

// Ingest receives one signed event of source: it checks the integration and the signature,
// validates the whole payload and resolves its approver, then stores the event with one insert
// under its webhook-id (the replay guard) and hands it to the event worker (ProcessEvents),
// which applies it. A webhook-id stored before is acknowledged as duplicate without effect,
// processed or not: the stored event is processed once either way, after a restart too.
//
// It returns unauthorized (naming the header) for a bad, stale or missing signature, and for an
// unknown source as for a signature no secret matches; forbidden for a disabled integration,
// once the signature proved the caller holds its secret; invalid naming the field for a bad
// payload, unknown_approvers (Data {"employee_nos": [...]}) when the directory lacks the
// approver, and unavailable when the database cannot be reached. (Before, anyone could tell,
// unsigned, which sources exist and which are disabled: 404 and 403 came before the signature.)
func (s *Service) Ingest(ctx context.Context, source string, h Headers, body []byte) (*IngestResult, error) {
	ig, err := s.acceptIntegration(ctx, source)
	switch {
	case apperr.Is(err, apperr.NotFound):
		ig = &Integration{} // no secrets: Verify answers as for a wrong signature
	case err != nil:
		return nil, err
	}
	now := s.Now.Stored()
	if err := Verify(h, body, ig.Secrets, now); err != nil {
		return nil, err
	}
	if !ig.Enabled {
		return nil, apperr.New(apperr.Forbidden, "integration %s is disabled", source)
	}
	p, err := parsePayload(body)
	if err != nil {
		return nil, err
	}
	approvers, err := s.acceptApprovers(ctx, p)
	if err != nil {
		return nil, err
	}
	key := EventKey(source, h.ID)
	ev := &Event{ID: key, Source: source, WebhookID: h.ID, Type: p.Type, Body: string(body), Approvers: approvers,
		ReceivedAt: now, ExpiresAt: now.Add(EventRetention)}
	_, err = s.coll(eventsColl).InsertOne(ctx, ev)
	switch {
	case mongodb.IsDuplicateKey(err):
		return &IngestResult{EventID: h.ID, Result: ResultDuplicate}, nil
	case err != nil:
		return nil, fmt.Errorf("store event %s: %w", key, mongodb.Translate(err, "event"))
	}
	s.accepts.add()
	s.queue.offer(ev)
	return &IngestResult{EventID: h.ID, Result: ResultAccepted}, nil
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
