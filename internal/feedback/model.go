package feedback

import (
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clienttime"
	datasync "github.com/mportal/mportal/sync"
)

// Categories of feedback.
const (
	CategoryBug        = "bug"
	CategorySuggestion = "suggestion"
	CategoryQuestion   = "question"
	CategoryIncident   = "incident"
)

// Statuses of feedback, set by ops only (see transitions.go).
const (
	StatusNew          = "new"
	StatusAcknowledged = "acknowledged"
	StatusInProgress   = "in_progress"
	StatusResolved     = "resolved"
	StatusWontFix      = "wont_fix"
	StatusDuplicate    = "duplicate"
)

// Location is where the feedback was written, as the phone measured it.
type Location struct {
	Latitude  float64  `json:"latitude"`
	Longitude float64  `json:"longitude"`
	AccuracyM *float64 `json:"accuracy_m,omitempty"`
}

// Snapshot describes the app and device the feedback was written on, fixed at creation.
type Snapshot struct {
	AppID       string `bson:"app_id" json:"app_id"`
	Build       int64  `bson:"build" json:"build"`
	Version     string `bson:"version" json:"version"`
	Channel     string `bson:"channel" json:"channel"`
	Platform    string `bson:"platform" json:"platform"`
	DeviceModel string `bson:"device_model" json:"device_model"`
	OSVersion   string `bson:"os_version" json:"os_version"`
}

// feedbackDoc is a "feedback" document; _id is the id the app generated.
type feedbackDoc struct {
	ID            string `bson:"_id"`
	datasync.Meta `bson:",inline"`

	// Author-owned, written by pushes.
	Category  string   `bson:"category"`
	Text      string   `bson:"text"`
	Latitude  *float64 `bson:"latitude,omitempty"`
	Longitude *float64 `bson:"longitude,omitempty"`
	AccuracyM *float64 `bson:"accuracy_m,omitempty"`
	Snapshot  `bson:",inline"`
	CreatedAt int64 `bson:"created_at"` // the app's clock, ms since the epoch
	Shared    bool  `bson:"shared"`     // visible to the channel's testers; fixed at creation

	// Ops-owned, written by the triage endpoints.
	Status         string `bson:"status"`
	AssigneeID     string `bson:"assignee_id,omitempty"`
	Resolution     string `bson:"resolution,omitempty"`
	DuplicateOf    string `bson:"duplicate_of,omitempty"`
	UpdatedByOpsAt int64  `bson:"updated_by_ops_at,omitempty"` // ms
	// FirstStatusAt is when ops first changed the status and ClosedAt when it last became
	// resolved or wont_fix (ms, server clock); the feedback loop metrics read them (loop.go).
	FirstStatusAt int64 `bson:"first_status_at,omitempty"`
	ClosedAt      int64 `bson:"closed_at,omitempty"`
	// OpsVersion counts ops changes; an ops write is conditional on it (see ops.go) and a
	// status notification's key carries it.
	OpsVersion int64 `bson:"ops_version"`
	// OpsReplied is set by the first ops reply: such feedback cannot be deleted by its author.
	OpsReplied bool   `bson:"ops_replied,omitempty"`
	OpsToken   string `bson:"ops_token,omitempty"`

	// Computed by the server.
	AuthorID   string    `bson:"author_id"`
	AuthorName string    `bson:"author_name"`
	Department string    `bson:"department"`
	ReceivedAt time.Time `bson:"received_at"`
}

// commentDoc is a "feedback_comments" document.
type commentDoc struct {
	ID            string `bson:"_id"`
	datasync.Meta `bson:",inline"`
	FeedbackID    string `bson:"feedback_id"`
	AuthorID      string `bson:"author_id"`
	AuthorName    string `bson:"author_name"`
	FromOps       bool   `bson:"from_ops"`
	Text          string `bson:"text"`
	CreatedAt     int64  `bson:"created_at"` // ms
}

// Attachment statuses: the app creates an attachment pending, the upload completes or fails it.
const (
	AttachmentPending  = "pending"
	AttachmentComplete = "complete"
	AttachmentFailed   = "failed"
)

// attachmentDoc is a "feedback_attachments" document.
type attachmentDoc struct {
	ID            string `bson:"_id"`
	datasync.Meta `bson:",inline"`
	FeedbackID    string `bson:"feedback_id"`
	AuthorID      string `bson:"author_id"`
	Filename      string `bson:"filename"`
	ContentType   string `bson:"content_type"`
	Size          int64  `bson:"size"`
	Status        string `bson:"status"`
	CreatedAt     int64  `bson:"created_at"` // ms
	// Where the finished upload is; set when Status is complete.
	Bucket    string `bson:"bucket,omitempty"`
	ObjectKey string `bson:"object_key,omitempty"`
	Failure   string `bson:"failure,omitempty"`
}

// Feedback is a feedback report as the REST API shows it.
type Feedback struct {
	ID               string    `json:"id"`
	Category         string    `json:"category"`
	Text             string    `json:"text"`
	Location         *Location `json:"location"`
	Snapshot         Snapshot  `json:"snapshot"`
	CreatedAt        time.Time `json:"created_at"`
	ReceivedAt       time.Time `json:"received_at"`
	ShareWithTesters bool      `json:"share_with_testers"`

	Status         string     `json:"status"`
	AssigneeID     string     `json:"assignee_id,omitempty"`
	Resolution     string     `json:"resolution,omitempty"`
	DuplicateOf    string     `json:"duplicate_of,omitempty"`
	UpdatedByOpsAt *time.Time `json:"updated_by_ops_at,omitempty"`

	AuthorID     string `json:"author_id"`
	AuthorName   string `json:"author_name"`
	Department   string `json:"department"`
	MeTooCount   int    `json:"me_too_count"`
	CommentCount int    `json:"comment_count"`
	// MeToo says whether the caller added a "me too".
	MeToo bool `json:"me_too"`

	// Comments and Attachments are filled in by the detail reads only.
	Comments    []Comment    `json:"comments,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Comment is a comment or an ops reply on feedback.
type Comment struct {
	ID         string    `json:"id"`
	FeedbackID string    `json:"feedback_id"`
	AuthorID   string    `json:"author_id"`
	AuthorName string    `json:"author_name"`
	FromOps    bool      `json:"from_ops"`
	Text       string    `json:"text"`
	CreatedAt  time.Time `json:"created_at"`
}

// Attachment is a photo of feedback; its content is served by AttachmentURL once complete.
type Attachment struct {
	ID          string    `json:"id"`
	FeedbackID  string    `json:"feedback_id"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	// Failure says why the upload failed; only with status failed.
	Failure string `json:"failure,omitempty"`
}

// msTime renders a stored millisecond time; client times stored before they were range-checked
// are clamped so that they cannot fail a response (see clienttime.Time).
func msTime(ms int64) time.Time { return clienttime.Time(ms) }

// view renders d for caller (the location only for its author and ops: seesPlace).
func (s *Service) view(d *feedbackDoc, caller *auth.Principal) Feedback {
	callerID := caller.UserID
	f := Feedback{
		ID: d.ID, Category: d.Category, Text: d.Text, Snapshot: d.Snapshot,
		CreatedAt: msTime(d.CreatedAt), ReceivedAt: d.ReceivedAt.UTC(), ShareWithTesters: d.Shared,
		Status: d.Status, AssigneeID: d.AssigneeID, Resolution: d.Resolution, DuplicateOf: d.DuplicateOf,
		AuthorID: d.AuthorID, AuthorName: d.AuthorName, Department: d.Department,
	}
	if d.Latitude != nil && d.Longitude != nil && seesPlace(d, caller) {
		f.Location = &Location{Latitude: *d.Latitude, Longitude: *d.Longitude, AccuracyM: d.AccuracyM}
	}
	if d.UpdatedByOpsAt > 0 {
		t := msTime(d.UpdatedByOpsAt)
		f.UpdatedByOpsAt = &t
	}
	f.MeTooCount, f.CommentCount, f.MeToo = s.counts.of(d.ID, callerID)
	return f
}

func commentView(d *commentDoc) Comment {
	return Comment{ID: d.ID, FeedbackID: d.FeedbackID, AuthorID: d.AuthorID, AuthorName: d.AuthorName,
		FromOps: d.FromOps, Text: d.Text, CreatedAt: msTime(d.CreatedAt)}
}

func attachmentView(d *attachmentDoc) Attachment {
	return Attachment{ID: d.ID, FeedbackID: d.FeedbackID, Filename: d.Filename, ContentType: d.ContentType,
		Size: d.Size, Status: d.Status, CreatedAt: msTime(d.CreatedAt), Failure: d.Failure}
}
