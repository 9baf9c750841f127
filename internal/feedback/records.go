package feedback

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	datasync "github.com/mportal/mportal/sync"
)

// The sync records are flat, as WatermelonDB columns are: location and snapshot are columns of
// their own, times are milliseconds since the epoch. Pulled records carry every column; pushed
// records are read for the author-owned columns only, and server columns in them are ignored.

// feedbackRecord is a "feedback" sync record.
type feedbackRecord struct {
	ID               string   `json:"id"`
	Category         string   `json:"category"`
	Text             string   `json:"text"`
	Latitude         *float64 `json:"latitude"`
	Longitude        *float64 `json:"longitude"`
	AccuracyM        *float64 `json:"accuracy_m"`
	AppID            string   `json:"app_id"`
	Build            int64    `json:"build"`
	Version          string   `json:"version"`
	Channel          string   `json:"channel"`
	Platform         string   `json:"platform"`
	DeviceModel      string   `json:"device_model"`
	OSVersion        string   `json:"os_version"`
	CreatedAt        int64    `json:"created_at"`
	ShareWithTesters bool     `json:"share_with_testers"`

	Status         string `json:"status"`
	AssigneeID     string `json:"assignee_id"`
	Resolution     string `json:"resolution"`
	DuplicateOf    string `json:"duplicate_of"`
	UpdatedByOpsAt *int64 `json:"updated_by_ops_at"`

	AuthorID     string `json:"author_id"`
	AuthorName   string `json:"author_name"`
	Department   string `json:"department"`
	MeTooCount   int    `json:"me_too_count"`
	CommentCount int    `json:"comment_count"`
	MeToo        bool   `json:"me_too"`
}

// commentRecord is a "feedback_comments" sync record.
type commentRecord struct {
	ID         string `json:"id"`
	FeedbackID string `json:"feedback_id"`
	AuthorID   string `json:"author_id"`
	AuthorName string `json:"author_name"`
	FromOps    bool   `json:"from_ops"`
	Text       string `json:"text"`
	CreatedAt  int64  `json:"created_at"`
}

// attachmentRecord is a "feedback_attachments" sync record.
type attachmentRecord struct {
	ID          string `json:"id"`
	FeedbackID  string `json:"feedback_id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Status      string `json:"status"`
	CreatedAt   int64  `json:"created_at"`
	Failure     string `json:"failure"` // why the upload failed; "" unless status is failed
}

// record renders d as the feedback sync record caller pulls.
func (s *Service) record(d *feedbackDoc, caller *auth.Principal) feedbackRecord {
	callerID := caller.UserID
	r := feedbackRecord{
		ID: d.ID, Category: d.Category, Text: d.Text, Latitude: d.Latitude, Longitude: d.Longitude,
		AccuracyM: d.AccuracyM, AppID: d.AppID, Build: d.Build, Version: d.Version, Channel: d.Channel,
		Platform: d.Platform, DeviceModel: d.DeviceModel, OSVersion: d.OSVersion, CreatedAt: d.CreatedAt,
		ShareWithTesters: d.Shared, Status: d.Status, AssigneeID: d.AssigneeID, Resolution: d.Resolution,
		DuplicateOf: d.DuplicateOf, AuthorID: d.AuthorID, AuthorName: d.AuthorName, Department: d.Department,
	}
	if d.UpdatedByOpsAt > 0 {
		r.UpdatedByOpsAt = &d.UpdatedByOpsAt
	}
	if !seesPlace(d, caller) {
		r.Latitude, r.Longitude, r.AccuracyM = nil, nil, nil
	}
	r.MeTooCount, r.CommentCount, r.MeToo = s.counts.of(d.ID, callerID)
	return r
}

// seesPlace reports whether caller sees where d was written: its author and ops do; the
// testers it is shared with do not (a report written at home or at a customer's was shared
// with its exact coordinates).
func seesPlace(d *feedbackDoc, caller *auth.Principal) bool {
	return caller != nil && (caller.UserID == d.AuthorID || caller.HasRole(auth.RoleOps) || caller.HasRole(auth.RoleAdmin))
}

func commentRecordOf(d *commentDoc) commentRecord {
	return commentRecord{ID: d.ID, FeedbackID: d.FeedbackID, AuthorID: d.AuthorID, AuthorName: d.AuthorName,
		FromOps: d.FromOps, Text: d.Text, CreatedAt: d.CreatedAt}
}

func attachmentRecordOf(d *attachmentDoc) attachmentRecord {
	return attachmentRecord{ID: d.ID, FeedbackID: d.FeedbackID, Filename: d.Filename, ContentType: d.ContentType,
		Size: d.Size, Status: d.Status, CreatedAt: d.CreatedAt, Failure: d.Failure}
}

// decodeRecord reads a pushed record into v. A value of the wrong JSON type is an invalid error
// naming the column.
func decodeRecord(raw json.RawMessage, v any) error {
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return apperr.Field(typ.Field, "%s must be a JSON %s", typ.Field, typ.Type.Kind())
		}
		return apperr.New(apperr.Invalid, "the record is not a valid JSON object")
	}
	return nil
}

// reject turns err into the engine's rejection of the record id; errors without a client code
// are not rejections and are returned as they are.
func reject(id string, raw json.RawMessage, err error) (datasync.Rejection, error) {
	e, ok := apperr.As(err)
	if !ok || e.Code == apperr.Internal || e.Code == apperr.Unavailable {
		return datasync.Rejection{}, err
	}
	return datasync.RejectionFrom(id, raw, e), nil
}
