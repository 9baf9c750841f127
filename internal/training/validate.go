package training

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clienttime"
	"github.com/mportal/mportal/internal/i18n"
)

// Input is a new video's metadata.
type Input struct {
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Category    string     `json:"category"`
	Tags        []string   `json:"tags"`
	Roles       []string   `json:"roles"`
	Departments []string   `json:"departments"`
	Required    bool       `json:"required"`
	DueAt       *time.Time `json:"due_at"`
	Language    string     `json:"language"`
}

// Patch changes a video's metadata; nil fields stay as they are. Published false unpublishes:
// employees no longer see the video, and its playback URLs stop working when they expire.
type Patch struct {
	Title       *string    `json:"title"`
	Description *string    `json:"description"`
	Category    *string    `json:"category"`
	Tags        *[]string  `json:"tags"`
	Roles       *[]string  `json:"roles"`
	Departments *[]string  `json:"departments"`
	Required    *bool      `json:"required"`
	DueAt       *time.Time `json:"due_at"`
	Language    *string    `json:"language"`
	Published   *bool      `json:"published"`
}

// Limits of the metadata.
const (
	maxTitle       = 200
	maxDescription = 20000
	maxName        = 100 // a category, tag or department
	maxTags        = 20
	maxDepartments = 100
)

// markdown renders CommonMark with the GitHub extensions; goldmark drops raw HTML and the
// sanitizer is the real guard, as for announcements.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

var safeHTML = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}()

// apply validates in and writes it into d, rendering the description.
func (in Input) apply(d *videoDoc) error {
	in.Title = strings.TrimSpace(in.Title)
	switch {
	case in.Title == "" || utf8.RuneCountInString(in.Title) > maxTitle:
		return apperr.Field("title", "title must have 1 to %d characters", maxTitle)
	case utf8.RuneCountInString(in.Description) > maxDescription:
		return apperr.Field("description", "description must have at most %d characters", maxDescription)
	case utf8.RuneCountInString(in.Category) > maxName:
		return apperr.Field("category", "category must have at most %d characters", maxName)
	case in.Language == "":
		in.Language = i18n.Locales[0]
	}
	if !slices.Contains(i18n.Locales, in.Language) {
		return apperr.Field("language", "language must be one of %s", strings.Join(i18n.Locales, ", "))
	}
	tags, err := names("tags", in.Tags, maxTags)
	if err != nil {
		return err
	}
	departments, err := names("departments", in.Departments, maxDepartments)
	if err != nil {
		return err
	}
	roles, err := names("roles", in.Roles, len(auth.AllRoles))
	if err != nil {
		return err
	}
	for _, r := range roles {
		if !slices.Contains(auth.AllRoles, auth.Role(r)) {
			return apperr.Field("roles", "unknown role %q", r)
		}
	}
	if in.Required != (in.DueAt != nil) {
		return apperr.Field("due_at", "a required video needs a due date, and only a required video has one")
	}
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(in.Description), &buf); err != nil {
		return fmt.Errorf("render description: %w", err)
	}
	d.Title, d.Description, d.DescriptionHTML = in.Title, in.Description, safeHTML.Sanitize(buf.String())
	d.Category, d.Tags, d.Roles, d.Departments = strings.TrimSpace(in.Category), tags, roles, departments
	d.Required, d.Language = in.Required, in.Language
	d.DueAt = nil
	if in.DueAt != nil {
		if err := clienttime.CheckWritable("due_at", *in.DueAt); err != nil {
			return err
		}
		due := in.DueAt.UTC()
		d.DueAt = &due
	}
	return nil
}

// names trims, checks and de-duplicates a list of names; nil becomes empty.
func names(field string, in []string, limit int) ([]string, error) {
	if len(in) > limit {
		return nil, apperr.Field(field, "at most %d %s", limit, field)
	}
	out := []string{}
	for _, n := range in {
		n = strings.TrimSpace(n)
		if n == "" || utf8.RuneCountInString(n) > maxName {
			return nil, apperr.Field(field, "each of %s must have 1 to %d characters", field, maxName)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// input returns d's metadata as an Input, for applying a Patch.
func (d *videoDoc) input() Input {
	return Input{Title: d.Title, Description: d.Description, Category: d.Category, Tags: d.Tags,
		Roles: d.Roles, Departments: d.Departments, Required: d.Required, DueAt: d.DueAt, Language: d.Language}
}

// merge returns in with the patch's fields applied. Setting required false drops the due date.
func (p Patch) merge(in Input) Input {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&in.Title, p.Title)
	set(&in.Description, p.Description)
	set(&in.Category, p.Category)
	set(&in.Language, p.Language)
	if p.Tags != nil {
		in.Tags = *p.Tags
	}
	if p.Roles != nil {
		in.Roles = *p.Roles
	}
	if p.Departments != nil {
		in.Departments = *p.Departments
	}
	if p.Required != nil {
		in.Required = *p.Required
		if !in.Required {
			in.DueAt = nil
		}
	}
	if p.DueAt != nil {
		in.DueAt = p.DueAt
	}
	return in
}
