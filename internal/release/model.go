// Package release distributes the company's apps: apps and their channels, channel membership,
// uploaded builds and staged releases on tracks. It owns the collections named below; the update
// check reads them through Service.Catalog and Service.Generation.
package release

import (
	"time"

	"github.com/mportal/mportal/internal/release/rollout"
)

// The collections owned by the release service.
const (
	appsColl     = "apps"
	channelsColl = "channels"
	membersColl  = "channel_members"
	seatsColl    = "channel_seats"
	buildsColl   = "builds"
	tracksColl   = "tracks"
	metaColl     = "release_meta"
)

// Platform is the mobile platform a build runs on: "android" or "ios".
type Platform string

// The supported platforms.
const (
	Android Platform = "android"
	IOS     Platform = "ios"
)

// App is one distributed application with its store identifiers per platform.
type App struct {
	// ID is the slug, ^[a-z][a-z0-9-]{1,31}$.
	ID             string    `bson:"_id" json:"id"`
	Name           string    `bson:"name" json:"name"`
	AndroidPackage string    `bson:"android_package,omitempty" json:"android_package,omitempty"`
	IOSBundleID    string    `bson:"ios_bundle_id,omitempty" json:"ios_bundle_id,omitempty"`
	CreatedAt      time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt      time.Time `bson:"updated_at" json:"updated_at"`
}

// ChannelKind says what kind of channel a Channel is: "alpha", "beta", "stable" or "custom".
type ChannelKind string

// The channel kinds. Alpha, beta and stable exist for every app; custom channels are made by ops.
const (
	KindAlpha  ChannelKind = "alpha"
	KindBeta   ChannelKind = "beta"
	KindStable ChannelKind = "stable"
	KindCustom ChannelKind = "custom"
)

// Channel is a named audience of an app that releases are published to.
type Channel struct {
	// ID is "<app>/<name>".
	ID    string `bson:"_id" json:"-"`
	AppID string `bson:"app_id" json:"app_id"`
	// Name is alpha, beta, stable, or a custom name matching ^[a-z][a-z0-9-]{1,31}$.
	Name string      `bson:"name" json:"name"`
	Kind ChannelKind `bson:"kind" json:"kind"`
	// Roles and Departments add members implicitly (alpha and custom channels only), e.g. IT staff.
	Roles       []string `bson:"roles,omitempty" json:"roles"`
	Departments []string `bson:"departments,omitempty" json:"departments"`
	// SelfOptIn lets users join the channel themselves (typically beta).
	SelfOptIn bool `bson:"self_opt_in" json:"self_opt_in"`
	// Cap is the maximum number of explicit members; 0 means no cap.
	Cap int `bson:"cap,omitempty" json:"cap"`
	// Retention keeps the last N builds released on this channel; 0 keeps all.
	Retention int       `bson:"retention,omitempty" json:"retention"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// Member is an explicit member (invited or self opt-in). Stable has everyone implicitly; alpha and
// custom channels also include users matching Roles/Departments.
type Member struct {
	// ID is "<app>/<channel>/<user id>".
	ID      string `bson:"_id" json:"-"`
	AppID   string `bson:"app_id" json:"app_id"`
	Channel string `bson:"channel" json:"channel"`
	UserID  string `bson:"user_id" json:"user_id"`
	// Source is "invite" or "self".
	Source string `bson:"source" json:"source"`
	// Seat is the claimed seat number when the channel is capped.
	Seat     int       `bson:"seat,omitempty" json:"-"`
	JoinedAt time.Time `bson:"joined_at" json:"joined_at"`
}

// Build is one uploaded APK or IPA with the metadata parsed from it.
type Build struct {
	// ID is "<app>/<platform>/<build number>"; its uniqueness turns a duplicate upload into a conflict.
	ID string `bson:"_id" json:"-"`
	// PublicID is "<platform>-<build number>", unique per app.
	PublicID    string   `bson:"public_id" json:"id"`
	AppID       string   `bson:"app_id" json:"app_id"`
	Platform    Platform `bson:"platform" json:"platform"`
	Build       int64    `bson:"build" json:"build"`
	Version     string   `bson:"version" json:"version"`
	PackageID   string   `bson:"package_id" json:"package_id"`
	MinOS       string   `bson:"min_os" json:"min_os"`
	DisplayName string   `bson:"display_name" json:"display_name"`
	Size        int64    `bson:"size" json:"size"`
	SHA256      string   `bson:"sha256" json:"sha256"`
	// ObjectKey is the key of the artifact in the media.Artifacts bucket.
	ObjectKey string `bson:"object_key" json:"-"`
	// IconKey is the key of the icon in the media.Images bucket, empty when the build has none.
	IconKey string `bson:"icon_key,omitempty" json:"-"`
	// Notes are the release notes in Markdown by locale (zh-CN, en); NotesHTML is their sanitized HTML.
	Notes          map[string]string `bson:"notes,omitempty" json:"notes"`
	NotesHTML      map[string]string `bson:"notes_html,omitempty" json:"notes_html"`
	WhatsNewCardID string            `bson:"whats_new_card_id,omitempty" json:"whats_new_card_id,omitempty"`
	UploadedBy     string            `bson:"uploaded_by" json:"uploaded_by"`
	UploadedAt     time.Time         `bson:"uploaded_at" json:"uploaded_at"`
}

// Release is the stored form of a rollout.Release. Its ID also seeds its cohort.
type Release struct {
	ID string `bson:"id" json:"id"`
	// BuildID is the build's PublicID ("<platform>-<build number>"), unique within the app.
	BuildID     string        `bson:"build_id" json:"build_id"`
	Build       int64         `bson:"build" json:"build"`
	Version     string        `bson:"version" json:"version"`
	Percent     float64       `bson:"percent" json:"percent"`
	Seed        string        `bson:"seed" json:"-"`
	State       rollout.State `bson:"state" json:"state"`
	PublishedAt time.Time     `bson:"published_at" json:"published_at"`
	UpdatedAt   time.Time     `bson:"updated_at" json:"updated_at"`
}

// Track holds the releases of one (app, platform, channel) and its forced-update floor.
type Track struct {
	// ID is "<app>/<platform>/<channel>".
	ID       string    `bson:"_id" json:"-"`
	AppID    string    `bson:"app_id" json:"app_id"`
	Platform Platform  `bson:"platform" json:"platform"`
	Channel  string    `bson:"channel" json:"channel"`
	MinBuild int64     `bson:"min_build" json:"min_build"`
	Releases []Release `bson:"releases" json:"releases"`
	// Version guards every change: updateOne({_id, version: v}, {$set: ..., version: v+1}) under
	// db.Lock(ID), which is correct on the embedded database and on real MongoDB alike.
	Version   int64     `bson:"version" json:"-"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// Rollout converts t for rollout.Decide.
func (t *Track) Rollout() rollout.Track {
	rs := make([]rollout.Release, len(t.Releases))
	for i, r := range t.Releases {
		rs[i] = toRollout(r)
	}
	return rollout.Track{Releases: rs, MinBuild: t.MinBuild}
}

// Generation: every write to apps/channels/members/builds/tracks ends with
// updateOne(metaColl {_id:"gen"}, {$set:{token: <random>, at: now}}, upsert) — a plain overwrite,
// not a counter. Every instance's update-check view polls that one document (every second) and
// reloads everything when the token changed; the writing instance also calls the local OnChange
// hook so it reloads at once.
const generationID = "gen"

// Download records that a user downloaded a build.
type Download struct {
	// ID is "<build _id>/<user id>".
	ID      string    `bson:"_id"`
	AppID   string    `bson:"app_id"`
	BuildID string    `bson:"build_id"`
	UserID  string    `bson:"user_id"`
	At      time.Time `bson:"at"`
}
