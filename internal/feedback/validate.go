package feedback

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/clienttime"
	"github.com/mportal/mportal/media"
)

// Limits on what the apps may write.
const (
	MaxTextRunes       = 5000
	MaxCommentRunes    = 2000
	MaxResolutionRunes = 2000
	MaxAttachmentSize  = 20 << 20
	MaxAttachments     = 10
	maxShortField      = 100
	maxFilename        = 200
	maxIDLen           = 64
	maxAccuracyM       = 100_000
)

// Categories lists the feedback categories.
var Categories = []string{CategoryBug, CategorySuggestion, CategoryQuestion, CategoryIncident}

// AttachmentTypes are the photo types an attachment may have.
var AttachmentTypes = []string{"image/jpeg", "image/png", "image/heic"}

// validID accepts the ids apps generate (WatermelonDB's 16 alphanumerics, UUIDs): they become
// _ids and parts of other ids, so '/' and '$' are out.
var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func checkID(field, id string) error {
	if !validID.MatchString(id) {
		return apperr.Field(field, "%s must be 1 to %d letters, digits, '-' or '_'", field, maxIDLen)
	}
	return nil
}

// checkText trims s and checks it has 1 to limit characters without control characters other
// than line breaks and tabs.
func checkText(field, s string, limit int) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n == 0 || n > limit {
		return "", apperr.Field(field, "%s must be 1 to %d characters", field, limit)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) {
		return "", apperr.Field(field, "%s must not contain control characters", field)
	}
	return s, nil
}

func checkShort(field, s string) error {
	if utf8.RuneCountInString(s) > maxShortField || strings.ContainsFunc(s, unicode.IsControl) {
		return apperr.Field(field, "%s must be at most %d printable characters", field, maxShortField)
	}
	return nil
}

func finite(f *float64) bool { return f == nil || (!math.IsNaN(*f) && !math.IsInf(*f, 0)) }

// checkFeedback validates the author-owned columns of a pushed feedback record and normalizes
// its text; now is the server's clock, which bounds created_at. Sharing with the testers of the
// stable channel is refused here (stable has no testers); whether the author may share into
// another channel is checked when the record is created (see share.go).
func checkFeedback(r *feedbackRecord, now time.Time) error {
	if err := checkID("id", r.ID); err != nil {
		return err
	}
	if !slices.Contains(Categories, r.Category) {
		return apperr.Field("category", "category must be one of %s", strings.Join(Categories, ", "))
	}
	text, err := checkText("text", r.Text, MaxTextRunes)
	if err != nil {
		return err
	}
	r.Text = text
	switch {
	case (r.Latitude == nil) != (r.Longitude == nil):
		return apperr.Field("latitude", "latitude and longitude are set together or not at all")
	case !finite(r.Latitude) || !finite(r.Longitude) || !finite(r.AccuracyM):
		return apperr.Field("latitude", "the location must be finite numbers")
	case r.Latitude != nil && (*r.Latitude < -90 || *r.Latitude > 90):
		return apperr.Field("latitude", "latitude must be between -90 and 90")
	case r.Longitude != nil && (*r.Longitude < -180 || *r.Longitude > 180):
		return apperr.Field("longitude", "longitude must be between -180 and 180")
	case r.AccuracyM != nil && (r.Latitude == nil || *r.AccuracyM < 0 || *r.AccuracyM > maxAccuracyM):
		return apperr.Field("accuracy_m", "accuracy_m must be 0 to %d metres and needs a location", maxAccuracyM)
	case r.Build < 0:
		return apperr.Field("build", "build must not be negative")
	case r.AppID == "" || r.Channel == "":
		return apperr.Field("app_id", "app_id and channel are required")
	case r.ShareWithTesters && !shareable(r.Channel):
		return apperr.Field("share_with_testers", "feedback on the %s channel cannot be shared with testers: it has none", r.Channel)
	}
	if err := clienttime.Check("created_at", r.CreatedAt, now); err != nil {
		return err
	}
	// In the record's column order, so that a record with two bad columns always names the same.
	for _, c := range [...]struct{ field, v string }{
		{"app_id", r.AppID}, {"version", r.Version}, {"channel", r.Channel}, {"platform", r.Platform},
		{"device_model", r.DeviceModel}, {"os_version", r.OSVersion},
	} {
		if err := checkShort(c.field, c.v); err != nil {
			return err
		}
	}
	return nil
}

// checkAttachment validates a pushed attachment record; now bounds created_at.
func checkAttachment(r *attachmentRecord, now time.Time) error {
	if err := checkID("id", r.ID); err != nil {
		return err
	}
	if err := checkID("feedback_id", r.FeedbackID); err != nil {
		return err
	}
	name, err := checkText("filename", r.Filename, maxFilename)
	if err != nil {
		return err
	}
	if strings.ContainsAny(name, `/\"`) {
		return apperr.Field("filename", "filename must not contain '/', '\\' or '\"'")
	}
	// The photo is downloaded under this name: one its download would refuse (too many bytes
	// of Chinese, a tab, only dots) once made the photo unreadable and its console page fail.
	if err := media.CheckDownloadName("filename", name); err != nil {
		return err
	}
	r.Filename = name
	switch {
	case !slices.Contains(AttachmentTypes, r.ContentType):
		return apperr.Field("content_type", "content_type must be one of %s", strings.Join(AttachmentTypes, ", "))
	case r.Size <= 0 || r.Size > MaxAttachmentSize:
		return apperr.Field("size", "size must be 1 to %d bytes", MaxAttachmentSize)
	}
	return clienttime.Check("created_at", r.CreatedAt, now)
}

// checkComment validates a pushed comment record; now bounds created_at.
func checkComment(r *commentRecord, now time.Time) error {
	if err := checkID("id", r.ID); err != nil {
		return err
	}
	if err := checkID("feedback_id", r.FeedbackID); err != nil {
		return err
	}
	text, err := checkText("text", r.Text, MaxCommentRunes)
	if err != nil {
		return err
	}
	r.Text = text
	return clienttime.Check("created_at", r.CreatedAt, now)
}
