package console

import (
	"html/template"
	"slices"
	"strings"

	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/banner"
	"github.com/mportal/mportal/internal/whatsnew"
)

// DateTimeLocal is the layout of an <input type="datetime-local"> value; the console reads and
// shows such values as UTC.
const DateTimeLocal = "2006-01-02T15:04"

// Draft is an announcement being composed, as the compose form holds it: every field a
// string, so that a form sent back with an error shows exactly what was typed.
type Draft struct {
	Title, Body, Importance string
	// PublishAt and ExpiresAt are DateTimeLocal values in UTC; "" means now and never.
	PublishAt, ExpiresAt string
	Pinned               bool
	All                  bool
	Roles                []string
	// Departments, Channels and UserIDs are comma- or line-separated lists.
	Departments, Channels, UserIDs string
	// CoverImage is the key of an image uploaded with an earlier step of the form.
	CoverImage string
}

// HasRole reports whether the draft's audience picks role.
func (d Draft) HasRole(role string) bool { return slices.Contains(d.Roles, role) }

// Compose is the compose screen: the draft, and after "Preview" or "Review" its rendering and
// the reach of its audience.
type Compose struct {
	Draft Draft
	// RoleChoices are the roles the audience picker offers.
	RoleChoices []string
	// Preview is the body rendered by the announcement service's own Markdown renderer and
	// sanitizer (announce.Service.Preview), the HTML the apps will show.
	Preview template.HTML
	// Estimate is the audience's reach now, by the directory's audience rules.
	Estimate *announce.Estimate
	// Problem is why the service refused the draft, and Field the form field it names.
	Problem, Field string
	// Review shows the confirmation instead of the editor.
	Review bool
	// Images are presigned URLs of the uploaded images shown, by key.
	Images map[string]string
	// EditID is the announcement edited; "" when composing a new one.
	EditID string
	// Published is set when the announcement edited is already out: its publish time can no
	// longer change (the API's PATCH answers 409 to a new publish_at).
	Published bool
}

// FormAction is where the editor's Preview and Review buttons post.
func (c Compose) FormAction() string {
	if c.EditID != "" {
		return "/console/announcements/" + c.EditID + "/edit"
	}
	return "/console/announcements/new"
}

// SaveAction is where the confirmation posts: a new announcement, or the edit of EditID.
func (c Compose) SaveAction() string {
	if c.EditID != "" {
		return "/console/announcements/" + c.EditID
	}
	return "/console/announcements"
}

// DraftOf is a stored announcement as the compose form shows it, for editing.
func DraftOf(a announce.Announcement) Draft {
	d := Draft{Title: a.Title, Body: a.Body, Importance: a.Importance, Pinned: a.Pinned, All: a.Audience.All,
		Roles: a.Audience.Roles, Departments: strings.Join(a.Audience.Departments, ", "),
		Channels: strings.Join(a.Audience.Channels, ", "), UserIDs: strings.Join(a.Audience.UserIDs, ", ")}
	if a.Status == announce.StatusScheduled {
		d.PublishAt = a.PublishAt.UTC().Format(DateTimeLocal)
	}
	if a.ExpiresAt != nil {
		d.ExpiresAt = a.ExpiresAt.UTC().Format(DateTimeLocal)
	}
	if a.CoverImage != nil {
		d.CoverImage = *a.CoverImage
	}
	return d
}

// Who describes the draft's audience as the service will store it.
func (c Compose) Who(locale string) string {
	d := c.Draft
	return AudienceText(locale, announce.Audience{All: d.All, Roles: d.Roles, Departments: splitList(d.Departments),
		Channels: splitList(d.Channels), UserIDs: splitList(d.UserIDs)})
}

// splitList reads a comma- or line-separated list field.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// SplitList reads a comma- or line-separated list field of a console form.
func SplitList(v string) []string { return splitList(v) }

// AnnouncementRow is an announcement in the list.
type AnnouncementRow struct {
	announce.Announcement
}

// Who describes the announcement's audience.
func (r AnnouncementRow) Who(locale string) string { return AudienceText(locale, r.Audience) }

// AnnouncementDetail is one announcement with its reach and read and acknowledgement numbers.
type AnnouncementDetail struct {
	Announcement announce.Announcement
	BodyHTML     template.HTML
	Stats        *announce.Stats
	// Reminder is the reminder just sent, shown once after "Remind".
	Reminder *announce.Reminder
	Problem  string
	// Images are presigned URLs of the uploaded images shown (the cover), by key.
	Images map[string]string
}

// CoverKey is the key of the announcement's cover image; "" without one.
func (d AnnouncementDetail) CoverKey() string {
	if d.Announcement.CoverImage == nil {
		return ""
	}
	return *d.Announcement.CoverImage
}

// Who describes the announcement's audience.
func (d AnnouncementDetail) Who(locale string) string {
	return AudienceText(locale, d.Announcement.Audience)
}

// AudienceText describes an audience in a line, in locale, for the list and the confirmation.
func AudienceText(locale string, a announce.Audience) string {
	if a.All {
		return T(locale, "audience_all")
	}
	var parts []string
	for _, l := range []struct {
		key  string
		list []string
	}{{"aud_departments", a.Departments}, {"aud_roles", a.Roles}, {"aud_channels", a.Channels}, {"aud_users", a.UserIDs}} {
		if len(l.list) > 0 {
			parts = append(parts, T(locale, l.key)+": "+strings.Join(l.list, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

// Banners is the banners screen.
type Banners struct {
	Items   []banner.Banner
	Problem string
	// Images are presigned URLs of the banners' images, by key.
	Images map[string]string
}

// BannerForm is what the banner form's fields show: L is the locale, P prefixes the fields'
// ids, B is the banner edited (nil for a new one).
type BannerForm struct {
	L, P         string
	B            *banner.Banner
	Starts, Ends string
	// ImageURL shows the banner's current image; "" when it cannot be shown.
	ImageURL string
}

// EditForm is the edit form of b.
func (bs Banners) EditForm(locale string, b banner.Banner) BannerForm {
	return BannerForm{L: locale, P: "b" + b.ID + "-", B: &b, ImageURL: bs.Images[b.ImageKey],
		Starts: b.StartsAt.UTC().Format(DateTimeLocal), Ends: b.EndsAt.UTC().Format(DateTimeLocal)}
}

// NewForm is the form of a new banner.
func (Banners) NewForm(locale string) BannerForm { return BannerForm{L: locale, P: "new-"} }

// WhatsNew is the what's-new cards screen.
type WhatsNew struct {
	App     string
	Items   []whatsnew.Card
	Problem string
	// Images are presigned URLs of the cards' images, by key.
	Images map[string]string
}

// CanManageContent reports whether the viewer sees the announcements, banners and what's-new
// screens (role ops, as the API requires).
func (p Page) CanManageContent() bool { return p.Viewer.HasRole(auth.RoleOps) }
