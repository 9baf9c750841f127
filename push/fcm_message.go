package push

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"firebase.google.com/go/v4/messaging"
)

// Data keys the sender fills in when the engine has not: the app routes on
// them, and delivery_id lets it acknowledge or de-duplicate a delivery.
const (
	dataDeepLink   = "deep_link"
	dataCategory   = "category"
	dataDeliveryID = "delivery_id"
)

// maxAPNsCollapseID is Apple's limit on apns-collapse-id, in bytes.
const maxAPNsCollapseID = 64

// fcmMessage builds the FCM message for m under its category's policy. Only
// the config of m's platform is included, to keep payloads small; an unknown
// platform gets both.
func fcmMessage(m *Message, now time.Time) *messaging.Message {
	p := m.Category.Policy()
	collapse := m.CollapseKey
	if collapse == "" {
		collapse = p.CollapseKey
	}
	ttl := m.TTL
	if ttl <= 0 {
		ttl = p.TTL
	}
	if m.Silent {
		return silentMessage(m, p, collapse, ttl, now)
	}
	out := &messaging.Message{
		Token:        m.Token,
		Data:         fcmData(m),
		Notification: &messaging.Notification{Title: m.Title, Body: m.Body},
	}
	if m.Category.Valid() {
		// The label groups delivery statistics by category in the Firebase
		// console; FCM rejects labels outside [a-zA-Z0-9-_.~%].
		out.FCMOptions = &messaging.FCMOptions{AnalyticsLabel: string(m.Category)}
	}
	// The shown notification's identity on the phone: the collapse key, else the notification
	// id. A message the provider accepted but whose answer was lost is sent again (a Retry): with
	// its id as the Android tag and the APNs collapse id, that second copy replaces the first
	// on the phone instead of showing twice.
	tag := collapse
	if tag == "" {
		tag = m.Data["notification_id"]
	}
	if m.Platform != "ios" {
		out.Android = androidConfig(p, collapse, tag, ttl)
	}
	if m.Platform != "android" {
		out.APNS = apnsConfig(m, p, tag, ttl, now)
	}
	return out
}

// silentMessage is a data-only message: Android hands it to the app's messaging service
// without showing anything, and iOS wakes the app in the background (content-available,
// apns-push-type background, which Apple requires to be sent at priority 5). The collapse key
// still applies, so it replaces an undelivered visible message of the same key.
func silentMessage(m *Message, p Policy, collapse string, ttl time.Duration, now time.Time) *messaging.Message {
	out := &messaging.Message{Token: m.Token, Data: fcmData(m)}
	if m.Platform != "ios" {
		out.Android = &messaging.AndroidConfig{CollapseKey: collapse, Priority: p.AndroidPriority, TTL: &ttl}
	}
	if m.Platform != "android" {
		headers := map[string]string{
			"apns-priority":   "5",
			"apns-push-type":  "background",
			"apns-expiration": strconv.FormatInt(now.Add(ttl).Unix(), 10),
		}
		if collapse != "" {
			headers["apns-collapse-id"] = apnsCollapseID(collapse)
		}
		out.APNS = &messaging.APNSConfig{Headers: headers,
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{ContentAvailable: true}}}
	}
	return out
}

func androidConfig(p Policy, collapse, tag string, ttl time.Duration) *messaging.AndroidConfig {
	prio := messaging.PriorityDefault
	if p.AndroidPriority == "high" {
		prio = messaging.PriorityHigh
	}
	return &messaging.AndroidConfig{
		CollapseKey: collapse,
		Priority:    p.AndroidPriority,
		TTL:         &ttl,
		Notification: &messaging.AndroidNotification{
			ChannelID: p.AndroidChannel,
			Priority:  prio,
			// The tag makes a collapsed message (or a second copy) also replace
			// the shown notification, not just the undelivered one.
			Tag: tag,
		},
	}
}

func apnsConfig(m *Message, p Policy, collapse string, ttl time.Duration, now time.Time) *messaging.APNSConfig {
	headers := map[string]string{
		"apns-priority":   p.APNsPriority,
		"apns-push-type":  "alert",
		"apns-expiration": strconv.FormatInt(now.Add(ttl).Unix(), 10),
	}
	if collapse != "" {
		headers["apns-collapse-id"] = apnsCollapseID(collapse)
	}
	return &messaging.APNSConfig{
		Headers: headers,
		Payload: &messaging.APNSPayload{Aps: &messaging.Aps{
			Alert:    &messaging.ApsAlert{Title: m.Title, Body: m.Body},
			Sound:    "default",
			Category: p.APNsCategory,
			// Notification Center groups by thread, so one category's
			// messages stay together.
			ThreadID: string(m.Category),
		}},
	}
}

// fcmData copies m.Data and adds the routing keys the engine left out. It
// copies because the engine may share one Data map between many messages.
func fcmData(m *Message) map[string]string {
	d := make(map[string]string, len(m.Data)+3)
	for k, v := range m.Data {
		d[k] = v
	}
	setDefault(d, dataCategory, string(m.Category))
	setDefault(d, dataDeepLink, m.DeepLink)
	setDefault(d, dataDeliveryID, m.ID)
	return d
}

func setDefault(d map[string]string, key, value string) {
	if _, ok := d[key]; !ok && value != "" {
		d[key] = value
	}
}

// apnsCollapseID fits a collapse key into Apple's 64-byte limit: longer keys
// are replaced by their SHA-256 so distinct keys stay distinct.
func apnsCollapseID(key string) string {
	if len(key) <= maxAPNsCollapseID {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) // exactly 64 characters
}
