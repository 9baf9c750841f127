package announce

import (
	"encoding/json"
	"time"

	"github.com/mportal/mportal/push"
)

// Audience selects who an announcement is for; a user matching any criterion is in it. It is
// push.Audience with JSON names.
type Audience struct {
	All         bool     `bson:"all,omitempty" json:"all"`
	Departments []string `bson:"departments,omitempty" json:"departments"`
	Roles       []string `bson:"roles,omitempty" json:"roles"`
	// Channels selects the users who have a device checked in on one of these release channels.
	Channels []string `bson:"channels,omitempty" json:"channels"`
	UserIDs  []string `bson:"user_ids,omitempty" json:"user_ids"`
}

func (a Audience) push() push.Audience {
	return push.Audience{All: a.All, Departments: a.Departments, Roles: a.Roles, Channels: a.Channels, UserIDs: a.UserIDs}
}

// withLists makes every list non-nil, so that JSON shows [] rather than null.
func (a Audience) withLists() Audience {
	for _, l := range []*[]string{&a.Departments, &a.Roles, &a.Channels, &a.UserIDs} {
		if *l == nil {
			*l = []string{}
		}
	}
	return a
}

// Announcement is an announcement as ops manage it. The stored fields are written by create and
// edit only; Status, PublishedAt and WithdrawnAt come from the publish and withdraw claims.
type Announcement struct {
	ID    string `bson:"_id" json:"id"`
	Title string `bson:"title" json:"title"`
	// Body is the Markdown source; BodyHTML its sanitized rendering, made when it is written.
	Body       string     `bson:"body" json:"body"`
	BodyHTML   string     `bson:"body_html" json:"body_html"`
	Excerpt    string     `bson:"excerpt" json:"excerpt"`
	Audience   Audience   `bson:"audience" json:"audience"`
	Importance string     `bson:"importance" json:"importance"`
	PublishAt  time.Time  `bson:"publish_at" json:"publish_at"`
	ExpiresAt  *time.Time `bson:"expires_at,omitempty" json:"expires_at"`
	Pinned     bool       `bson:"pinned" json:"pinned"`
	CoverImage *string    `bson:"cover_image,omitempty" json:"cover_image"`
	CreatedBy  string     `bson:"created_by" json:"created_by"`
	CreatedAt  time.Time  `bson:"created_at" json:"created_at"`
	UpdatedAt  time.Time  `bson:"updated_at" json:"updated_at"`
	// Rev changes with every edit, which is written only over the Rev it read (see saveEdit),
	// and when the announcement is read for its push (see readForPush).
	// Announcements stored before it have none.
	Rev string `bson:"rev,omitempty" json:"-"`

	Status      string     `bson:"-" json:"status"`
	PublishedAt *time.Time `bson:"-" json:"published_at"`
	WithdrawnAt *time.Time `bson:"-" json:"withdrawn_at"`
}

// Summary is an announcement in an employee's list.
type Summary struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Excerpt     string     `json:"excerpt"`
	Importance  string     `json:"importance"`
	Pinned      bool       `json:"pinned"`
	CoverImage  *string    `json:"cover_image"`
	PublishedAt time.Time  `json:"published_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// Detail is one announcement as an employee reads it, with the reader's own progress.
type Detail struct {
	Summary
	BodyHTML       string     `json:"body_html"`
	ReadAt         *time.Time `json:"read_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
}

func (a *Announcement) summary() Summary {
	s := Summary{ID: a.ID, Title: a.Title, Excerpt: a.Excerpt, Importance: a.Importance, Pinned: a.Pinned,
		CoverImage: a.CoverImage, ExpiresAt: a.ExpiresAt}
	if a.PublishedAt != nil {
		s.PublishedAt = *a.PublishedAt
	}
	return s
}

// Input is what ops send to create or edit an announcement. On create Title, Body and Audience
// are required; on edit an absent field keeps its value, and null clears ExpiresAt or
// CoverImage (null PublishAt means now).
type Input struct {
	Title      *string             `json:"title"`
	Body       *string             `json:"body"`
	Audience   *Audience           `json:"audience"`
	Importance *string             `json:"importance"`
	PublishAt  Optional[time.Time] `json:"publish_at"`
	ExpiresAt  Optional[time.Time] `json:"expires_at"`
	Pinned     *bool               `json:"pinned"`
	CoverImage Optional[string]    `json:"cover_image"`
}

// Optional is a JSON field that tells an absent value (Set false) from null (Set, Value nil).
type Optional[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON implements json.Unmarshaler; it only runs for a field present in the input.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

// Stats is the reach of one announcement.
type Stats struct {
	AudienceSize int `json:"audience_size"`
	// Pushed counts the audience's devices that can take a push: the devices the publication
	// went to, as the directory knows them now. Zero before publication.
	Pushed       int               `json:"pushed"`
	Read         int               `json:"read"`
	Acknowledged int               `json:"acknowledged"`
	ByDepartment []DepartmentStats `json:"by_department"`
}

// DepartmentStats is the reach within one department.
type DepartmentStats struct {
	Department   string `json:"department"`
	Audience     int    `json:"audience"`
	Read         int    `json:"read"`
	Acknowledged int    `json:"acknowledged"`
}

// Reminder is a reminder push sent to the audience users who have not read an announcement.
type Reminder struct {
	Number     int       `json:"number"`
	Recipients int       `json:"recipients"`
	SentAt     time.Time `json:"sent_at"`
}
