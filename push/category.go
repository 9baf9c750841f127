package push

import "time"

// Policy is how messages of one category are delivered. The Android channel
// ids and the APNs category must match what the mobile apps register.
type Policy struct {
	// AndroidChannel is the notification channel id; users can mute channels
	// in the Android settings, so each category has its own.
	AndroidChannel string
	// AndroidPriority is the FCM message priority, "high" or "normal". High
	// wakes a dozing device and is reserved for messages a user must act on.
	AndroidPriority string
	// TTL is how long FCM and APNs keep the message for an offline device.
	TTL time.Duration
	// CollapseKey is used when a message has none; empty means every message
	// stands on its own.
	CollapseKey string
	// APNsPriority is the apns-priority header: "10" delivers immediately,
	// "5" lets iOS batch delivery to save power.
	APNsPriority string
	// APNsCategory is aps.category, which selects the notification's action
	// buttons registered by the iOS app; empty means no actions.
	APNsCategory string
	// Urgent messages ignore the recipient's quiet hours.
	Urgent bool
}

const day = 24 * time.Hour

// Policy returns the delivery policy of c. Unknown categories get the
// conservative policy of announcements on a "general" channel, so a category
// added before its policy never wakes devices or ignores quiet hours.
func (c Category) Policy() Policy {
	switch c {
	case CategoryApproval:
		// Approvals block someone's work: deliver now and offer the
		// approve/reject actions right on the notification.
		return Policy{AndroidChannel: "approvals", AndroidPriority: "high", TTL: day,
			APNsPriority: "10", APNsCategory: "APPROVAL_ACTIONS", Urgent: true}
	case CategoryAnnouncement:
		return Policy{AndroidChannel: "announcements", AndroidPriority: "normal", TTL: 7 * day, APNsPriority: "5"}
	case CategoryRelease:
		// Only the newest build matters; an undelivered older release
		// notice is replaced rather than shown next to the new one.
		return Policy{AndroidChannel: "releases", AndroidPriority: "normal", TTL: 7 * day,
			CollapseKey: "release", APNsPriority: "5"}
	case CategoryFeedbackReply:
		return Policy{AndroidChannel: "feedback", AndroidPriority: "normal", TTL: 7 * day, APNsPriority: "5"}
	case CategoryTraining:
		return Policy{AndroidChannel: "training", AndroidPriority: "normal", TTL: 3 * day, APNsPriority: "5"}
	default:
		return Policy{AndroidChannel: "general", AndroidPriority: "normal", TTL: 7 * day, APNsPriority: "5"}
	}
}

// Valid reports whether c is one of the known categories.
func (c Category) Valid() bool {
	switch c {
	case CategoryApproval, CategoryAnnouncement, CategoryRelease, CategoryFeedbackReply, CategoryTraining:
		return true
	}
	return false
}

// Urgent reports whether messages of c are delivered during quiet hours.
func (c Category) Urgent() bool { return c.Policy().Urgent }

// AllCategories returns the known categories in a stable order, for
// validating and listing per-category preferences.
func AllCategories() []Category {
	return []Category{CategoryApproval, CategoryAnnouncement, CategoryRelease, CategoryFeedbackReply, CategoryTraining}
}
