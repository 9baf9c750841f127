// Package push delivers notifications to mobile devices. Domains enqueue a
// Notification through the Engine; the Engine fans it out to device tokens and
// hands Messages to a Sender, which talks to a push provider such as FCM.
package push

import (
	"context"
	"time"
)

// Category classifies a notification. It selects the Android channel, the
// priority, the time to live and the APNs headers (see Policy), and users can
// switch push off per category.
type Category string

// The categories the domains send.
const (
	// CategoryApproval asks an approver to decide on a request; it is urgent.
	CategoryApproval Category = "approval"
	// CategoryAnnouncement announces company news.
	CategoryAnnouncement Category = "announcement"
	// CategoryRelease tells beta testers and employees about a new app build.
	CategoryRelease Category = "release"
	// CategoryFeedbackReply tells a user that their feedback got an answer.
	CategoryFeedbackReply Category = "feedback_reply"
	// CategoryTraining reminds a user of a training deadline.
	CategoryTraining Category = "training"
)

// Message is one push to one device token, already localized.
type Message struct {
	// ID is the delivery id ("<notificationID>/<deviceKey>"), used in logs and
	// recorded by the fake FCM server.
	ID string
	// Token is the provider's device registration token.
	Token string
	// Platform is "android" or "ios".
	Platform string
	// Category selects the delivery policy.
	Category Category
	// Title and Body are the visible text in the recipient's locale.
	Title, Body string
	// DeepLink is the in-app route to open, e.g. "mportal://announcements/123".
	DeepLink string
	// Data carries ids for the app; the engine adds "deep_link", "category" and
	// "notification_id".
	Data map[string]string
	// CollapseKey makes a newer message replace an older undelivered one with
	// the same key; empty means the category's default rule.
	CollapseKey string
	// TTL is how long the provider keeps the message for an offline device;
	// zero means the category's default.
	TTL time.Duration
	// Silent sends data only: nothing is shown (see Notification.Silent).
	Silent bool
}

// Outcome says what the engine should do with a message after a send attempt.
type Outcome int

const (
	// Delivered means the provider accepted the message.
	Delivered Outcome = iota
	// TokenInvalid means the token is dead or malformed; the engine removes it.
	TokenInvalid
	// Retry means a transient failure; the engine backs off and tries again.
	Retry
	// Failed means a permanent failure for this message; the engine dead-letters it.
	Failed
)

// Result is the outcome of sending one Message.
type Result struct {
	// Outcome says what to do next.
	Outcome Outcome
	// Reason is the provider's error code (e.g. "UNREGISTERED") or the HTTP
	// status when no code was given; empty when delivered.
	Reason string
	// RetryAfter is the provider's requested delay for Retry outcomes;
	// zero means the engine uses its own back-off.
	RetryAfter time.Duration
}

// Sender sends messages to a push provider.
type Sender interface {
	// Send sends up to MaxBatch messages and returns one Result per message,
	// in order. Per-message problems are Results, including messages cut off
	// because ctx ended during the call (Retry; such a message may or may not
	// have reached the provider). The error is only for a call that sent
	// nothing: ctx was already done, or more than MaxBatch messages were
	// given; the Results are then nil.
	Send(ctx context.Context, msgs []Message) ([]Result, error)
}

// MaxBatch is the largest number of messages one Send call accepts; it is
// the FCM SendEach limit.
const MaxBatch = 500
