package push

import (
	"context"
	"time"
)

// StaleAfter is how long a device may go unseen before the engine stops pushing to it: an app not
// opened for nine months is most likely uninstalled, and its token only earns provider errors.
const StaleAfter = 270 * 24 * time.Hour

// Audience selects the users and devices a notification goes to. The criteria are a union: a user
// is in the audience if any of them matches; an empty Audience reaches nobody.
type Audience struct {
	// All selects every active user.
	All bool `bson:"all,omitempty"`
	// Departments selects the active users of these departments.
	Departments []string `bson:"departments,omitempty"`
	// Roles selects the active users holding any of these roles.
	Roles []string `bson:"roles,omitempty"`
	// Channels selects the devices on these release channels ("stable", "beta", ...) and their
	// users.
	Channels []string `bson:"channels,omitempty"`
	// UserIDs selects these users, if active.
	UserIDs []string `bson:"user_ids,omitempty"`
}

// Empty reports whether a reaches nobody.
func (a Audience) Empty() bool {
	return !a.All && len(a.Departments) == 0 && len(a.Roles) == 0 && len(a.Channels) == 0 && len(a.UserIDs) == 0
}

// Recipient is one entry of an audience: a device of an audience user, or, when DeviceKey is empty,
// a user who gets an inbox item but has no device to push to.
type Recipient struct {
	UserID string
	// DeviceKey is the device's directory key, "<user id>/<device id>"; empty for a user-only entry.
	DeviceKey   string
	Token       string
	Platform    string
	Locale      string
	Timezone    string
	PushEnabled bool
	LastSeenAt  time.Time
}

// pushable reports whether the engine may push to r at now: it has a token, push is on, and the
// device was seen within StaleAfter.
func (r *Recipient) pushable(now time.Time) bool {
	return r.DeviceKey != "" && r.Token != "" && r.PushEnabled && now.Sub(r.LastSeenAt) <= StaleAfter
}

// RecipientSource streams an audience from the directory. internal/directory implements it over
// the users and devices collections.
type RecipientSource interface {
	// Stream calls fn with the audience's recipients in batches of at most MaxBatch, every user
	// of the audience appearing at least once (as a device or a user-only entry). Each call
	// carries a resume cursor: a later Stream with that cursor continues after the batch, so a
	// fan-out interrupted by a crash resumes where it stopped; "" starts from the beginning. fn
	// must not keep the slice. Stream returns fn's error as is, ctx's error when cancelled, and
	// unavailable when the directory cannot be read.
	Stream(ctx context.Context, aud Audience, cursor string, fn func(batch []Recipient, cursor string) error) error
	// RemoveToken forgets a push token that the provider reported as invalid, on whichever device
	// holds it. A token nobody holds is not an error. It returns unavailable when the directory
	// cannot be written.
	RemoveToken(ctx context.Context, token string) error
}

// TokenOwners is optionally implemented by a RecipientSource. The engine uses it to check, before
// sending a batch that waited (quiet hours, retries), that each token still belongs to the device
// it was fanned out for: a token moves when another user signs in on the same installation, and
// one user's notification must never reach another.
type TokenOwners interface {
	// TokenOwner returns the user and device key that token belongs to. It returns not_found
	// for a token nobody holds and unavailable when the directory cannot be read.
	TokenOwner(ctx context.Context, token string) (userID, deviceKey string, err error)
}

// DeviceTokens is optionally implemented by a RecipientSource that implements TokenOwners. A
// batch that waited may hold a token its device has since replaced (FCM refreshes tokens, and
// the app checks in with the new one): the engine then sends to the device's current token
// rather than dropping the device.
type DeviceTokens interface {
	// DeviceToken returns the push token the device holds now; "" when it has none, has push
	// off, or is gone. It returns unavailable when the directory cannot be read.
	DeviceToken(ctx context.Context, deviceKey string) (string, error)
}

// InboxItem is a notification as it appears in one user's in-app inbox. Its ID,
// "<user id>/<notification id>", makes writing it idempotent.
type InboxItem struct {
	ID             string
	UserID         string
	NotificationID string
	Category       Category
	// Title and Body are by locale, like Notification's; the inbox picks the reader's.
	Title, Body map[string]string
	DeepLink    string
	Data        map[string]string
	CreatedAt   time.Time
}

// InboxWriter stores inbox items. The inbox is written for every audience user, whether or not a
// push can reach them.
type InboxWriter interface {
	// Add stores items; an item whose ID exists already is left as it is, so adding twice is
	// harmless. It returns unavailable when the store cannot be written.
	Add(ctx context.Context, items []InboxItem) error
}

// inboxID is the id of userID's inbox item for a notification.
func inboxID(userID, notificationID string) string { return userID + "/" + notificationID }
