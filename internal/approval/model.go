package approval

import (
	"time"
)

// Collections owned by this package. No other package reads them by name.
const (
	// integrationsColl holds one Integration per source, _id = source.
	integrationsColl = "approval_integrations"
	// eventsColl holds every accepted inbound event, _id = EventKey(source, webhook-id): the
	// _id unique index is the replay guard ("a webhook-id seen before is acknowledged without
	// effect"), and an event without processed_at is the durable queue of the event worker.
	// Processed events are kept for EventRetention, far longer than the signature tolerance.
	eventsColl = "approval_events"
	// eventLeasesColl holds one document per lease window of the event worker, _id =
	// "events:<window start, Unix ms>": the replica whose insert created it processes events
	// during that window (an insert is the one write that is atomic on FerretDB too).
	eventLeasesColl = "approval_event_leases"
	// instancesColl holds one Instance per OA approval instance, _id = Key(source, instance id).
	instancesColl = "approval_instances"
	// tasksColl holds one Task per OA approval task, _id = Key(source, task id).
	tasksColl = "approval_tasks"
	// decisionsColl holds at most one Decision per task, _id = the task's _id: the _id unique
	// index is the "exactly one decision per task" guard (an insert is the one write that is
	// atomic on the embedded FerretDB as on MongoDB).
	decisionsColl = "approval_decisions"
	// delegationsColl holds at most one Delegation per delegating user, _id = that user's id.
	delegationsColl = "approval_delegations"
)

// Task and instance statuses as the OA sends them.
const (
	StatusPending     = "PENDING"
	StatusApproved    = "APPROVED"
	StatusRejected    = "REJECTED"
	StatusCanceled    = "CANCELED"    // instance withdrawn by the applicant, or task canceled
	StatusTerminated  = "TERMINATED"  // instance stopped by an administrator (instance only)
	StatusTransferred = "TRANSFERRED" // task handed to someone else on the OA side (task only)
	StatusDone        = "DONE"        // task finished without this approver (OR-sign decided by another)
)

// Node modes: an OR-sign node is decided by any one of its approvers, an AND-sign node needs all.
const (
	ModeOr  = "OR"
	ModeAnd = "AND"
)

// Decision actions and where a decision was made.
const (
	ActionApprove = "approve"
	ActionReject  = "reject"

	ViaMobile = "mobile" // decided in the app through mportal: the OA must be called back
	ViaOA     = "oa"     // decided on the OA side (the OA told us): nothing to call back
)

// Callback states of a decision (owned by the callback outbox, part C).
const (
	CallbackNone      = "none"      // nothing to deliver (a decision made on the OA side)
	CallbackPending   = "pending"   // to deliver at NextAt
	CallbackDelivered = "delivered" // the OA acknowledged it (2xx)
	CallbackFailed    = "failed"    // gave up (schedule exhausted, or 410 disabled the integration)
)

// EventRetention is how long a received event (and so its webhook-id) is kept: replays are
// refused by timestamp after SignatureTolerance, and by id within this window, which is much
// longer.
const EventRetention = 72 * time.Hour

// SignatureTolerance is how far a webhook-timestamp may be from the server's clock.
const SignatureTolerance = 5 * time.Minute

// Key is the _id of an instance or task: "<source>:<OA id>". Sources are [a-z0-9-] and OA ids
// [A-Za-z0-9._-], so the key is unambiguous and URL-safe; it is the task id of the REST API
// and of the sync table.
func Key(source, oaID string) string { return source + ":" + oaID }

// EventKey is the _id of a received event: "<source>/<webhook-id>" (webhook ids are unique per
// sender, not across senders).
func EventKey(source, webhookID string) string { return source + "/" + webhookID }

// Integration is one OA system ("source") that may send events and receives decisions.
type Integration struct {
	// ID is the source name used in URLs (/v1/integrations/{source}/events): [a-z0-9-]{1,32}.
	ID string `bson:"_id" json:"source"`
	// Name is a display name ("Feishu approvals").
	Name string `bson:"name" json:"name"`
	// CallbackURL receives the decisions made in the app (part C), signed with the newest secret.
	CallbackURL string `bson:"callback_url" json:"callback_url"`
	// Secrets are the active signing keys, oldest first, at most two: an event is accepted if
	// it is signed with any of them (rotation without downtime); callbacks are signed with the
	// last one. Keys are stored as given ("whsec_<base64>") because HMAC needs the key itself;
	// they are never logged and leave the server only once, in the answer that created them.
	Secrets []Secret `bson:"secrets" json:"secrets"`
	// Enabled integrations accept events and receive callbacks; a disabled one is refused with
	// 403 (events) and not called back.
	Enabled bool `bson:"enabled" json:"enabled"`
	// DisabledReason says why the integration was disabled automatically (e.g. the callback
	// answered 410 Gone); empty when an admin disabled it or when it is enabled.
	DisabledReason string    `bson:"disabled_reason,omitempty" json:"disabled_reason,omitempty"`
	CreatedAt      time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt      time.Time `bson:"updated_at" json:"updated_at"`
}

// Secret is one signing key of an integration.
type Secret struct {
	// ID identifies the key in listings ("sec_<random>"); the key itself is never listed.
	ID string `bson:"id" json:"id"`
	// Key is "whsec_" + base64 of at least 24 random bytes (Standard Webhooks format).
	Key       string    `bson:"key" json:"-"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// Event is a received, signature-checked, validated event: stored by one insert when it is
// accepted, processed (applied) later by the event worker.
type Event struct {
	// ID is EventKey(Source, WebhookID).
	ID        string `bson:"_id"`
	Source    string `bson:"source"`
	WebhookID string `bson:"webhook_id"`
	// Type is approval.task.created, approval.task.updated or approval.instance.updated.
	Type string `bson:"type"`
	// Body is the raw signed body, kept for audit and processed by the worker.
	Body string `bson:"body"`
	// Approvers maps the task's approver employee number to the user id the directory resolved
	// when the event was accepted (empty for an instance event).
	Approvers  map[string]string `bson:"approvers,omitempty"`
	ReceivedAt time.Time         `bson:"received_at"`
	// ProcessedAt is set once the event's effects are written, with Result (applied or stale);
	// an event without it is still to be processed, after a restart too (applying is
	// idempotent by version).
	ProcessedAt *time.Time `bson:"processed_at,omitempty"`
	Result      string     `bson:"result,omitempty"`
	// ExpiresAt is ReceivedAt + EventRetention; processed events older than that are purged.
	ExpiresAt time.Time `bson:"expires_at"`
}

// Field is one line of an instance's summary, shown in order ("Amount: ¥1,200").
type Field struct {
	Label string `bson:"label" json:"label"`
	Value string `bson:"value" json:"value"`
}

// Attachment is a link to a file held by the OA (mportal never copies it).
type Attachment struct {
	Name string `bson:"name" json:"name"`
	URL  string `bson:"url" json:"url"`
}

// Action is a decision an approver may take on a task.
type Action struct {
	// Action is approve or reject.
	Action string `bson:"action" json:"action"`
	// ReasonRequired makes a decision without a reason a 400 (field reason).
	ReasonRequired bool `bson:"reason_required" json:"reason_required"`
}

// Instance is one OA approval instance (an application going through a flow).
type Instance struct {
	// ID is Key(Source, InstanceID).
	ID         string `bson:"_id" json:"-"`
	Source     string `bson:"source" json:"source"`
	InstanceID string `bson:"instance_id" json:"instance_id"`
	FlowCode   string `bson:"flow_code" json:"flow_code"`
	FlowName   string `bson:"flow_name" json:"flow_name"`
	Title      string `bson:"title" json:"title"`
	// ApplicantEmployeeNo and ApplicantDepartment describe who applied (display only: the
	// applicant need not be an mportal user).
	ApplicantEmployeeNo string       `bson:"applicant_employee_no" json:"applicant_employee_no"`
	ApplicantName       string       `bson:"applicant_name" json:"applicant_name"`
	ApplicantDepartment string       `bson:"applicant_department" json:"applicant_department"`
	Summary             []Field      `bson:"summary" json:"summary"`
	Attachments         []Attachment `bson:"attachments" json:"attachments"`
	// DeepLink opens the instance in the OA's own mobile page.
	DeepLink string `bson:"deep_link" json:"deep_link"`
	// Status is PENDING, APPROVED, REJECTED, CANCELED (withdrawn) or TERMINATED.
	Status string `bson:"status" json:"status"`
	// Version orders the OA's updates (e.g. its update time in ms): an event with a version not
	// above the stored one changes nothing.
	Version   int64     `bson:"version" json:"version"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// Delegator is the approver a delegated task was originally assigned to.
type Delegator struct {
	UserID     string `bson:"user_id" json:"user_id"`
	EmployeeNo string `bson:"employee_no" json:"employee_no"`
}

// Task is one approval task of one approver. Fields up to Version come from the OA; the rest
// are mportal's.
type Task struct {
	// ID is Key(Source, TaskID), the id of the REST API and the sync table.
	ID          string `bson:"_id" json:"id"`
	Source      string `bson:"source" json:"source"`
	TaskID      string `bson:"task_id" json:"task_id"`
	InstanceKey string `bson:"instance_key" json:"-"`
	InstanceID  string `bson:"instance_id" json:"instance_id"`
	// FlowCode, FlowName and Title are copied from the instance so that lists, filters and
	// statistics need not join.
	FlowCode string `bson:"flow_code" json:"flow_code"`
	FlowName string `bson:"flow_name" json:"flow_name"`
	Title    string `bson:"title" json:"title"`
	NodeID   string `bson:"node_id" json:"node_id"`
	NodeName string `bson:"node_name" json:"node_name"`
	// NodeMode is OR or AND.
	NodeMode string `bson:"node_mode" json:"node_mode"`
	// AssigneeEmployeeNo is the approver the OA named. ApproverUserID and ApproverEmployeeNo
	// are who holds the task in mportal: the assignee, or their delegate (then DelegatedFrom is
	// the assignee).
	AssigneeEmployeeNo string     `bson:"assignee_employee_no" json:"-"`
	ApproverUserID     string     `bson:"approver_user_id" json:"-"`
	ApproverEmployeeNo string     `bson:"approver_employee_no" json:"approver_employee_no"`
	DelegatedFrom      *Delegator `bson:"delegated_from,omitempty" json:"delegated_from"`
	// Status is the OA's: PENDING, APPROVED, REJECTED, TRANSFERRED, DONE or CANCELED.
	Status string `bson:"status" json:"-"`
	// InstanceStatus is the instance's status, copied so that a withdrawn instance closes its
	// tasks.
	InstanceStatus string `bson:"instance_status" json:"-"`
	// CreatedAt is the OA's creation time of the task; DueAt its deadline, if any.
	CreatedAt time.Time  `bson:"created_at" json:"created_at"`
	DueAt     *time.Time `bson:"due_at,omitempty" json:"due_at"`
	Actions   []Action   `bson:"actions" json:"actions"`
	// ActionContext is opaque to mportal and echoed back to the OA with the decision.
	ActionContext string `bson:"action_context" json:"-"`
	// Version orders the OA's updates of this task (see Instance.Version).
	Version int64 `bson:"version" json:"version"`

	// Open is true while the task can be decided: Status and InstanceStatus PENDING and no
	// decision. Lists put open tasks first.
	Open bool `bson:"open" json:"-"`
	// ReceivedAt is when mportal first stored the task; UpdatedAt its last change.
	ReceivedAt time.Time `bson:"received_at" json:"received_at"`
	UpdatedAt  time.Time `bson:"updated_at" json:"updated_at"`
	// PushedAt is when the last "new task" push to the current approver was enqueued.
	PushedAt *time.Time `bson:"pushed_at,omitempty" json:"-"`
	// DecidedAt and DecidedAction are set when a decision is recorded (in the app or on the OA
	// side); the Decision document has the details.
	DecidedAt     *time.Time `bson:"decided_at,omitempty" json:"decided_at"`
	DecidedAction string     `bson:"decided_action,omitempty" json:"-"`
	// FormerUserIDs are users who held the task before a reassignment: their next sync pull
	// deletes it from their phone.
	FormerUserIDs []string `bson:"former_user_ids,omitempty" json:"-"`
	// Seq is the sync sequence number of the task's last write.
	Seq int64 `bson:"_seq,omitempty" json:"-"`
	// Rev is new on every write: a write replaces only the revision its writer read (see
	// writeTask).
	Rev string `bson:"rev,omitempty" json:"-"`
}

// Decision is the one decision of a task.
type Decision struct {
	// ID is the task's _id: the unique guard.
	ID     string `bson:"_id" json:"-"`
	Source string `bson:"source" json:"-"`
	// TaskID and InstanceID are the OA's ids, for the callback.
	TaskID     string `bson:"task_id" json:"-"`
	InstanceID string `bson:"instance_id" json:"-"`
	// FlowCode and NodeID are copied for statistics (part E).
	FlowCode string `bson:"flow_code" json:"-"`
	NodeID   string `bson:"node_id" json:"-"`
	// Action is approve or reject; Reason the approver's comment (may be empty).
	Action string `bson:"action" json:"action"`
	Reason string `bson:"reason" json:"reason"`
	// ByUserID and ByEmployeeNo are who decided (empty user id for an OA-side decision by
	// someone mportal does not know).
	ByUserID     string `bson:"by_user_id" json:"-"`
	ByEmployeeNo string `bson:"by_employee_no" json:"by_employee_no"`
	// Via is mobile (decided in the app) or oa (decided on the OA side).
	Via string `bson:"via" json:"via"`
	// IdempotencyKey is the client's key: a retry with the same key gets this decision back.
	IdempotencyKey string `bson:"idempotency_key,omitempty" json:"-"`
	// DeviceID is the session's device, for audit.
	DeviceID string `bson:"device_id,omitempty" json:"-"`
	// TaskVersion is the task version the decision was made on; ActionContext the task's,
	// echoed to the OA.
	TaskVersion   int64     `bson:"task_version" json:"-"`
	ActionContext string    `bson:"action_context" json:"-"`
	DecidedAt     time.Time `bson:"decided_at" json:"decided_at"`
	// TaskCreatedAt and PushedAt are copied from the task for statistics (time to decide, time
	// from push to decision).
	TaskCreatedAt time.Time  `bson:"task_created_at" json:"-"`
	PushedAt      *time.Time `bson:"pushed_at,omitempty" json:"-"`
	// Callback is the delivery state to the OA (owned by the callback outbox, part C).
	Callback Callback `bson:"callback" json:"-"`
}

// Callback is the delivery state of a decision to its source's callback URL.
type Callback struct {
	// State is none, pending, delivered or failed.
	State    string    `bson:"state"`
	Attempts int       `bson:"attempts"`
	NextAt   time.Time `bson:"next_at"`
	// LastError is the last failure, for ops (never a secret).
	LastError   string     `bson:"last_error,omitempty"`
	DeliveredAt *time.Time `bson:"delivered_at,omitempty"`
	// Round counts the attempts since the retry schedule (re)started (a replay restarts it);
	// it picks the delay before the next attempt. Attempts counts them all: the next attempt's
	// delivery log id is "<decision id>:<Attempts+1>".
	Round int `bson:"round,omitempty"`
	// LastOutcome is the outcome of the last attempt (see Delivery.Outcome).
	LastOutcome string `bson:"last_outcome,omitempty"`
	// Replay is set by an admin's replay; the next attempt is logged as one.
	Replay bool `bson:"replay,omitempty"`
}

// Delegation names who receives a user's new tasks during [From, To).
type Delegation struct {
	// UserID is the delegating user (the _id).
	UserID             string    `bson:"_id" json:"-"`
	DelegateUserID     string    `bson:"delegate_user_id" json:"-"`
	DelegateEmployeeNo string    `bson:"delegate_employee_no" json:"delegate"`
	From               time.Time `bson:"from" json:"from"`
	To                 time.Time `bson:"to" json:"to"`
	UpdatedAt          time.Time `bson:"updated_at" json:"updated_at"`
}

// covers reports whether the delegation is in force at t.
func (d *Delegation) covers(t time.Time) bool { return !t.Before(d.From) && t.Before(d.To) }
