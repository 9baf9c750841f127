package approval

import (
	"strings"
	"time"
)

// Task states as the app shows them (lower case, unlike the OA's statuses).
const (
	StatePending     = "pending"
	StateApproved    = "approved"
	StateRejected    = "rejected"
	StateWithdrawn   = "withdrawn"
	StateTransferred = "transferred"
	StateTerminated  = "terminated"
	StateDone        = "done"
	StateCanceled    = "canceled"
)

// status is the task's state for the approver: pending while it can be decided, then its
// decision, or why it closed without one.
func (t *Task) status() string {
	switch {
	case t.Open:
		return StatePending
	case t.DecidedAction == ActionApprove:
		return StateApproved
	case t.DecidedAction == ActionReject:
		return StateRejected
	case t.InstanceStatus == StatusCanceled:
		return StateWithdrawn
	case t.InstanceStatus == StatusTerminated:
		return StateTerminated
	case t.Status == StatusTransferred:
		return StateTransferred
	case t.Status == StatusCanceled:
		return StateCanceled
	}
	return StateDone
}

// Summary is a task in the approver's list.
type Summary struct {
	ID       string `json:"id"`
	Source   string `json:"source"`
	FlowCode string `json:"flow_code"`
	FlowName string `json:"flow_name"`
	Title    string `json:"title"`
	NodeName string `json:"node_name"`
	NodeMode string `json:"node_mode"`
	// Status is pending, approved, rejected, withdrawn, transferred, terminated, done or canceled.
	Status string `json:"status"`
	// DelegatedFromEmployeeNo is set when the task came through a delegation.
	DelegatedFromEmployeeNo *string    `json:"delegated_from_employee_no"`
	Actions                 []Action   `json:"actions"`
	CreatedAt               time.Time  `json:"created_at"`
	DueAt                   *time.Time `json:"due_at"`
	DecidedAt               *time.Time `json:"decided_at"`
	Version                 int64      `json:"version"`
}

// Detail is one task with its instance and its decision, if any.
type Detail struct {
	Summary
	NodeID              string        `json:"node_id"`
	InstanceID          string        `json:"instance_id"`
	ApplicantEmployeeNo string        `json:"applicant_employee_no"`
	ApplicantName       string        `json:"applicant_name"`
	ApplicantDepartment string        `json:"applicant_department"`
	Fields              []Field       `json:"summary"`
	Attachments         []Attachment  `json:"attachments"`
	DeepLink            string        `json:"deep_link"`
	Decision            *DecisionView `json:"decision"`
}

func (t *Task) summary() Summary {
	s := Summary{ID: t.ID, Source: t.Source, FlowCode: t.FlowCode, FlowName: t.FlowName, Title: t.Title,
		NodeName: t.NodeName, NodeMode: t.NodeMode, Status: t.status(), Actions: t.Actions, CreatedAt: t.CreatedAt,
		DueAt: t.DueAt, DecidedAt: t.DecidedAt, Version: t.Version}
	if s.Actions == nil {
		s.Actions = []Action{}
	}
	if !t.Open {
		s.Actions = []Action{} // nothing left to do
	}
	if t.DelegatedFrom != nil {
		no := t.DelegatedFrom.EmployeeNo
		s.DelegatedFromEmployeeNo = &no
	}
	return s
}

// statusFilter maps the list's status filter to the stored open flag.
func statusFilter(v string) (open bool, ok bool) {
	switch strings.ToLower(v) {
	case "pending":
		return true, true
	case "done":
		return false, true
	}
	return false, false
}
