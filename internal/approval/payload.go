package approval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/clienttime"
)

// Event types.
const (
	EventTaskCreated     = "approval.task.created"
	EventTaskUpdated     = "approval.task.updated"
	EventInstanceUpdated = "approval.instance.updated"
)

// Payload is an event body as the OA sends it (Standard Webhooks' {type, timestamp, data}).
// The JSON Schema is the contract's ApprovalEvent component.
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      struct {
		Instance *InstancePayload `json:"instance"`
		Task     *TaskPayload     `json:"task"`
	} `json:"data"`
}

// InstancePayload is an approval instance in an event.
type InstancePayload struct {
	ID          string       `json:"id"`
	FlowCode    string       `json:"flow_code"`
	FlowName    string       `json:"flow_name"`
	Title       string       `json:"title"`
	Applicant   Applicant    `json:"applicant"`
	Summary     []Field      `json:"summary"`
	Attachments []Attachment `json:"attachments"`
	DeepLink    string       `json:"deep_link"`
	Status      string       `json:"status"`
	Version     int64        `json:"version"`
}

// Applicant is who applied.
type Applicant struct {
	EmployeeNo string `json:"employee_no"`
	Name       string `json:"name"`
	Department string `json:"department"`
}

// TaskPayload is an approval task in an event.
type TaskPayload struct {
	ID                 string     `json:"id"`
	NodeID             string     `json:"node_id"`
	NodeName           string     `json:"node_name"`
	NodeMode           string     `json:"node_mode"`
	ApproverEmployeeNo string     `json:"approver_employee_no"`
	Status             string     `json:"status"`
	CreatedAt          time.Time  `json:"created_at"`
	DueAt              *time.Time `json:"due_at"`
	Actions            []Action   `json:"actions"`
	ActionContext      string     `json:"action_context"`
	Version            int64      `json:"version"`
}

// Payload limits: an event is display data, not a document store.
const (
	maxText        = 200
	maxSummary     = 50
	maxValue       = 2000
	maxAttachments = 20
	maxURL         = 2000
	maxContext     = 4000
)

var (
	oaIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	// absoluteURL accepts http(s) links and app schemes (dingtalk://, lark://) for deep links.
	absoluteURL = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*)://\S+$`)
	// unsafeSchemes run code or read local files when opened.
	unsafeSchemes = []string{"javascript", "vbscript", "data", "file"}
)

var (
	instanceStatuses = []string{StatusPending, StatusApproved, StatusRejected, StatusCanceled, StatusTerminated}
	taskStatuses     = []string{StatusPending, StatusApproved, StatusRejected, StatusTransferred, StatusDone, StatusCanceled}
)

// parsePayload decodes and validates an event body completely, before anything is stored. It
// returns invalid naming the field (as a JSON path, "data.task.approver_employee_no").
func parsePayload(body []byte) (*Payload, error) {
	var p Payload
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, decodeError(err)
	}
	switch p.Type {
	case EventTaskCreated, EventTaskUpdated:
		if p.Data.Task == nil {
			return nil, apperr.Field("data.task", "a task event needs data.task")
		}
		if err := p.Data.Task.validate("data.task"); err != nil {
			return nil, err
		}
	case EventInstanceUpdated:
		if p.Data.Task != nil {
			return nil, apperr.Field("data.task", "an instance event carries no task")
		}
	default:
		return nil, apperr.Field("type", "type must be %s, %s or %s", EventTaskCreated, EventTaskUpdated, EventInstanceUpdated)
	}
	if p.Data.Instance == nil {
		return nil, apperr.Field("data.instance", "data.instance is required")
	}
	if err := p.Data.Instance.validate("data.instance"); err != nil {
		return nil, err
	}
	return &p, nil
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &apperr.Error{Code: apperr.Invalid, Field: te.Field, Message: fmt.Sprintf("%s has the wrong type (%s expected)", te.Field, te.Type)}
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return &apperr.Error{Code: apperr.Invalid, Message: "a time is not RFC 3339: " + pe.Value}
	}
	return &apperr.Error{Code: apperr.InvalidJSON, Message: "the body is not a valid event: " + jsonProblem(err)}
}

// jsonProblem keeps the decoder's message only where it names a field of ours.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("JSON syntax error at byte %d", se.Offset)
	}
	if msg := err.Error(); len(msg) < 200 {
		return msg
	}
	return "malformed JSON"
}

func text(field, v string, required bool, limit int) error {
	n := utf8.RuneCountInString(v)
	if (required && n == 0) || n > limit {
		if required {
			return apperr.Field(field, "%s is required, at most %d characters", field, limit)
		}
		return apperr.Field(field, "%s must be at most %d characters", field, limit)
	}
	return nil
}

func link(field, v string) error {
	if v == "" {
		return nil
	}
	m := absoluteURL.FindStringSubmatch(v)
	if len(v) > maxURL || m == nil || slices.Contains(unsafeSchemes, strings.ToLower(m[1])) {
		return apperr.Field(field, "%s must be an absolute URL (http, https or an app scheme)", field)
	}
	return nil
}

func (in *InstancePayload) validate(f string) error {
	if !oaIDPattern.MatchString(in.ID) {
		return apperr.Field(f+".id", "id must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
	}
	for _, c := range []struct {
		field, v string
		req      bool
	}{{".flow_code", in.FlowCode, true}, {".flow_name", in.FlowName, true}, {".title", in.Title, true},
		{".applicant.employee_no", in.Applicant.EmployeeNo, true}, {".applicant.name", in.Applicant.Name, false},
		{".applicant.department", in.Applicant.Department, false}} {
		if err := text(f+c.field, c.v, c.req, maxText); err != nil {
			return err
		}
	}
	if len(in.Summary) > maxSummary {
		return apperr.Field(f+".summary", "summary has at most %d fields", maxSummary)
	}
	for i, fl := range in.Summary {
		if err := text(fmt.Sprintf("%s.summary[%d].label", f, i), fl.Label, true, maxText); err != nil {
			return err
		}
		if err := text(fmt.Sprintf("%s.summary[%d].value", f, i), fl.Value, false, maxValue); err != nil {
			return err
		}
	}
	if len(in.Attachments) > maxAttachments {
		return apperr.Field(f+".attachments", "attachments has at most %d links", maxAttachments)
	}
	for i, a := range in.Attachments {
		if err := text(fmt.Sprintf("%s.attachments[%d].name", f, i), a.Name, true, maxText); err != nil {
			return err
		}
		field := fmt.Sprintf("%s.attachments[%d].url", f, i)
		if a.URL == "" {
			return apperr.Field(field, "%s is required", field)
		}
		if err := link(field, a.URL); err != nil {
			return err
		}
	}
	if err := link(f+".deep_link", in.DeepLink); err != nil {
		return err
	}
	if !slices.Contains(instanceStatuses, in.Status) {
		return apperr.Field(f+".status", "status must be one of %v", instanceStatuses)
	}
	if in.Version <= 0 {
		return apperr.Field(f+".version", "version must be a positive integer")
	}
	return nil
}

func (t *TaskPayload) validate(f string) error {
	if !oaIDPattern.MatchString(t.ID) {
		return apperr.Field(f+".id", "id must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
	}
	for _, c := range []struct {
		field, v string
		req      bool
	}{{".node_id", t.NodeID, true}, {".node_name", t.NodeName, true}, {".approver_employee_no", t.ApproverEmployeeNo, true}} {
		if err := text(f+c.field, c.v, c.req, maxText); err != nil {
			return err
		}
	}
	if t.NodeMode != ModeOr && t.NodeMode != ModeAnd {
		return apperr.Field(f+".node_mode", "node_mode must be OR or AND")
	}
	if !slices.Contains(taskStatuses, t.Status) {
		return apperr.Field(f+".status", "status must be one of %v", taskStatuses)
	}
	if t.CreatedAt.IsZero() {
		return apperr.Field(f+".created_at", "created_at is required (RFC 3339)")
	}
	if err := clienttime.CheckWritable(f+".created_at", t.CreatedAt); err != nil {
		return err
	}
	if t.DueAt != nil {
		if err := clienttime.CheckWritable(f+".due_at", *t.DueAt); err != nil {
			return err
		}
	}
	if t.DueAt != nil && t.DueAt.Before(t.CreatedAt) {
		return apperr.Field(f+".due_at", "due_at must not be before created_at")
	}
	if len(t.Actions) == 0 || len(t.Actions) > 2 {
		return apperr.Field(f+".actions", "actions must list approve and/or reject")
	}
	seen := map[string]bool{}
	for i, a := range t.Actions {
		if (a.Action != ActionApprove && a.Action != ActionReject) || seen[a.Action] {
			return apperr.Field(fmt.Sprintf("%s.actions[%d].action", f, i), "action must be approve or reject, each at most once")
		}
		seen[a.Action] = true
	}
	if len(t.ActionContext) > maxContext {
		return apperr.Field(f+".action_context", "action_context must be at most %d bytes", maxContext)
	}
	if t.Version <= 0 {
		return apperr.Field(f+".version", "version must be a positive integer")
	}
	return nil
}
