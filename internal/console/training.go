package console

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/training"
)

// TrainingForm is the training video metadata form as typed (create and edit): the fields of
// training.Input, tags and departments comma-separated, the due date as datetime-local (UTC).
type TrainingForm struct {
	Title, Description, Category, Tags, Departments, Language, DueAt string
	Roles                                                            []string
	Required                                                         bool
}

// HasRole reports whether the form targets role r (a checked box).
func (f TrainingForm) HasRole(r string) bool { return slices.Contains(f.Roles, r) }

// FormOf is the form filled with a video's metadata, for editing it.
func FormOf(v *training.Video) TrainingForm {
	f := TrainingForm{Title: v.Title, Description: v.Description, Category: v.Category, Tags: strings.Join(v.Tags, ", "),
		Departments: strings.Join(v.Departments, ", "), Language: v.Language, Roles: v.Roles, Required: v.Required}
	if v.DueAt != nil {
		f.DueAt = v.DueAt.UTC().Format("2006-01-02T15:04")
	}
	return f
}

// TrainingList is the training screen: every video, and the form that creates one.
type TrainingList struct {
	Videos []*training.Video
	Form   TrainingForm
	// Problem is the service's refusal of the form, Field the field it names.
	Problem, Field string
	RoleChoices    []string
	Languages      []string
}

// TrainingVideo is one video's page: status, upload, preview, metadata, report.
type TrainingVideo struct {
	Video *training.Video
	Form  TrainingForm
	// PreviewURL is the presigned 360p MP4 ("" while nothing is playable or the video is
	// unpublished); its origin is added to the page's media-src.
	PreviewURL     string
	Report         *training.VideoUsers
	Problem, Field string
	RoleChoices    []string
	Languages      []string
}

// Refreshing reports whether the page reloads itself to follow processing.
func (d TrainingVideo) Refreshing() bool {
	return d.Video.Status == training.StatusUploaded || d.Video.Status == training.StatusProcessing
}

// TrainingStatus is the message key of a video's status.
func TrainingStatus(status string) string { return "tr_status_" + status }

// Audience says who a video is for: "" (everybody) or its roles and departments joined.
func Audience(v *training.Video) string {
	return strings.Join(append(slices.Clone(v.Roles), v.Departments...), ", ")
}

// Minutes shows a duration in milliseconds as m:ss.
func Minutes(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
