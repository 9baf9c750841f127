package api

import (
	"context"
	"io"
	"net/url"
	"time"

	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/banner"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/inbox"
	"github.com/mportal/mportal/internal/whatsnew"
	"github.com/mportal/mportal/push"
)

// The services the API calls. They are declared here, where they are consumed, and implemented by
// the domain packages; cmd/mportal wires the real ones.

// Sessions authenticates requests and manages sign-in sessions (auth.Sessions).
type Sessions interface {
	// Login returns unauthorized for any bad credential and rate_limited when throttled.
	Login(ctx context.Context, in auth.LoginInput) (*auth.TokenPair, error)
	// Refresh rotates a refresh token; unauthorized when it is unknown, expired, reused or revoked.
	Refresh(ctx context.Context, refreshToken, deviceID string) (*auth.TokenPair, error)
	// Authenticate verifies an access token and that its session is active; unauthorized otherwise.
	// It must not retain bearer: the API passes the request header's bytes, which are reused.
	Authenticate(ctx context.Context, bearer string) (*auth.Principal, error)
	// AuthenticateAt is Authenticate with the time the request arrived (fasthttp's read of the
	// clock), which the check uses instead of reading the clock again.
	AuthenticateAt(ctx context.Context, bearer string, at time.Time) (*auth.Principal, error)
	// Logout revokes the caller's current session.
	Logout(ctx context.Context, p *auth.Principal) error
	// ListSessions lists the caller's active sessions.
	ListSessions(ctx context.Context, p *auth.Principal) ([]auth.SessionInfo, error)
	// RevokeSession revokes one of the caller's sessions; not_found for anyone else's.
	RevokeSession(ctx context.Context, p *auth.Principal, sessionID string) error
	// ChangePassword returns invalid (field current_password) for a wrong current password — not
	// unauthorized, which would make the app drop its tokens — invalid for a weak new one, and
	// rate_limited after repeated wrong guesses.
	ChangePassword(ctx context.Context, p *auth.Principal, current, next string) error
}

// Directory manages users (directory.Users).
type Directory interface {
	// Me returns the caller's own profile.
	Me(ctx context.Context, userID string) (*directory.User, error)
	// UpdateMe changes the caller's locale and timezone; invalid for bad values.
	UpdateMe(ctx context.Context, p *auth.Principal, in directory.MeUpdate) (*directory.User, error)
	// The admin methods return forbidden unless the actor is an admin.
	Create(ctx context.Context, actor *auth.Principal, in directory.CreateUser) (*directory.User, string, error)
	Get(ctx context.Context, actor *auth.Principal, id string) (*directory.User, error)
	Update(ctx context.Context, actor *auth.Principal, id string, in directory.UserUpdate) (*directory.User, error)
	SetRoles(ctx context.Context, actor *auth.Principal, id string, roles []auth.Role) (*directory.User, error)
	ResetPassword(ctx context.Context, actor *auth.Principal, id string) (string, error)
	RevokeSessions(ctx context.Context, actor *auth.Principal, id string) error
	List(ctx context.Context, actor *auth.Principal, f directory.ListFilter) ([]directory.User, string, error)
	Departments(ctx context.Context, actor *auth.Principal) ([]directory.Department, error)
	Import(ctx context.Context, actor *auth.Principal, r io.Reader) (*directory.ImportResult, error)
}

// Devices manages the caller's devices (directory.Devices).
type Devices interface {
	// CheckIn creates or updates the caller's device; invalid for bad fields.
	CheckIn(ctx context.Context, p *auth.Principal, deviceID string, in directory.DeviceInput) (*directory.Device, error)
	// List returns the caller's devices only.
	List(ctx context.Context, p *auth.Principal) ([]directory.Device, error)
	// Delete removes one of the caller's devices; not_found for anyone else's.
	Delete(ctx context.Context, p *auth.Principal, deviceID string) error
	// OfUser returns any user's devices to an admin; forbidden for anyone else.
	OfUser(ctx context.Context, actor *auth.Principal, userID string) ([]directory.Device, error)
}

// Inbox is the caller's in-app notification inbox (inbox.Store). Every method returns
// unauthorized without a principal and unavailable when the database cannot be reached.
type Inbox interface {
	// List returns a page of the caller's items, newest first, and the next page's cursor ("" on
	// the last page); invalid (field limit or cursor) for bad paging.
	List(ctx context.Context, p *auth.Principal, limit int, cursor string) ([]inbox.Item, string, error)
	// UnreadCount counts the caller's unread items.
	UnreadCount(ctx context.Context, p *auth.Principal) (int, error)
	// MarkRead marks the item "<user id>/<notification id>" read; not_found unless it is the
	// caller's.
	MarkRead(ctx context.Context, p *auth.Principal, itemID string) error
	// MarkAllRead marks every item the caller has now as read.
	MarkAllRead(ctx context.Context, p *auth.Principal) error
}

// NotificationPrefs are the caller's push preferences (push.PrefsStore). Both methods return
// unauthorized without a principal and unavailable when the database cannot be reached.
type NotificationPrefs interface {
	// Get returns the caller's preferences, the defaults when none were set.
	Get(ctx context.Context, p *auth.Principal) (push.Prefs, error)
	// Set replaces the caller's preferences; invalid (with the field) for a bad category, time or
	// time zone.
	Set(ctx context.Context, p *auth.Principal, prefs push.Prefs) (push.Prefs, error)
}

// Banners are the login-page carousel banners (banner.Service). The ops methods return
// forbidden unless the actor has role ops; every method returns unavailable when the database
// cannot be reached.
type Banners interface {
	// Public returns the public banners active now, rendered with presigned image URLs, and the
	// list's entity tag; it needs no principal.
	Public(ctx context.Context) (*banner.PublicPage, error)
	// List returns every banner.
	List(ctx context.Context, actor *auth.Principal) ([]banner.Banner, error)
	// Create returns invalid (with the field) for a bad value or an unknown image key.
	Create(ctx context.Context, actor *auth.Principal, in banner.Input) (*banner.Banner, error)
	// Update returns not_found for an unknown id and invalid (with the field) for a bad value.
	Update(ctx context.Context, actor *auth.Principal, id string, p banner.Patch) (*banner.Banner, error)
	// Delete returns not_found for an unknown id.
	Delete(ctx context.Context, actor *auth.Principal, id string) error
}

// WhatsNew are the what's-new cards of app builds (whatsnew.Service). The ops methods return
// forbidden unless the actor has role ops; every method returns unavailable when the database
// cannot be reached.
type WhatsNew interface {
	// ForUpdate returns the caller's localized cards of the builds in the range; invalid (with
	// the query parameter) for a bad range.
	ForUpdate(ctx context.Context, p *auth.Principal, r whatsnew.Range) ([]whatsnew.LocalizedCard, error)
	// List returns the cards of one app ("" for all); invalid (field app) for a bad app id.
	List(ctx context.Context, actor *auth.Principal, appID string) ([]whatsnew.Card, error)
	// Create returns invalid (with the field) for a bad value and conflict for a taken order.
	Create(ctx context.Context, actor *auth.Principal, in whatsnew.Input) (*whatsnew.Card, error)
	// Delete returns not_found for an unknown id.
	Delete(ctx context.Context, actor *auth.Principal, id string) error
}

// Announcements are company announcements and their images (announce.Service). The ops methods
// return forbidden unless the actor has role ops and not_found for an unknown id; the employee
// methods return not_found for an announcement outside the caller's audience or not published.
// Every method returns unavailable when the database or the object storage cannot be reached.
type Announcements interface {
	// Create returns invalid (with the field) for bad input.
	Create(ctx context.Context, actor *auth.Principal, in announce.Input) (*announce.Announcement, error)
	// CreateOnce is Create guarded by an Idempotency-Key: a replay returns the first call's
	// announcement; idempotency_key_reused when the key came with a different input, invalid
	// (field Idempotency-Key) for a bad key.
	CreateOnce(ctx context.Context, actor *auth.Principal, key string, in announce.Input) (*announce.Announcement, error)
	List(ctx context.Context, actor *auth.Principal) ([]announce.Announcement, error)
	Get(ctx context.Context, actor *auth.Principal, id string) (*announce.Announcement, error)
	// Update returns invalid for bad input and conflict for a withdrawn announcement or a new
	// publish_at of a published one.
	Update(ctx context.Context, actor *auth.Principal, id string, in announce.Input) (*announce.Announcement, error)
	Withdraw(ctx context.Context, actor *auth.Principal, id string) (*announce.Announcement, error)
	Stats(ctx context.Context, actor *auth.Principal, id string) (*announce.Stats, error)
	// Reach returns the Stats of the announcements published over a range of UTC days; invalid
	// (field from or to) for a bad range.
	Reach(ctx context.Context, actor *auth.Principal, from, to string) ([]announce.Reach, error)
	// Remind returns conflict when the announcement is not published or was reminded of less
	// than 24 hours ago.
	Remind(ctx context.Context, actor *auth.Principal, id string) (*announce.Reminder, error)
	// EstimateReach counts the users and devices an audience reaches now; invalid (with the
	// audience field) for an audience Create would refuse.
	EstimateReach(ctx context.Context, actor *auth.Principal, aud announce.Audience) (*announce.Estimate, error)
	// Preview renders a Markdown body as Create stores it; invalid (field body) for a bad body.
	Preview(ctx context.Context, actor *auth.Principal, body string) (string, error)
	// ImageOrigin is the origin of presigned image URLs (for a page's img-src); unavailable
	// without storage.
	ImageOrigin(ctx context.Context) (string, error)
	// UploadImage returns unsupported_media_type, too_large or invalid for a bad image.
	UploadImage(ctx context.Context, actor *auth.Principal, contentType string, data []byte) (string, error)
	// ImageURL returns not_found for a key that names no image.
	ImageURL(ctx context.Context, p *auth.Principal, key string) (*url.URL, time.Time, error)
	Feed(ctx context.Context, p *auth.Principal) ([]announce.Summary, error)
	Read(ctx context.Context, p *auth.Principal, id string) (*announce.Detail, error)
	MarkRead(ctx context.Context, p *auth.Principal, id string) error
	// Acknowledge returns conflict for an announcement that is not important.
	Acknowledge(ctx context.Context, p *auth.Principal, id string) error
}

// Checker is a readiness check of one dependency (MongoDB, MinIO).
type Checker func(ctx context.Context) error
