package push

import (
	"testing"
	"time"
)

func TestSilentMessage(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	m := &Message{ID: "n/d", Token: "tok", Category: CategoryApproval, CollapseKey: "approval:oa:t1", Silent: true,
		Data: map[string]string{"task_id": "oa:t1", "approval_event": "withdraw"}}
	t.Run("shows nothing on Android and wakes iOS in the background", func(t *testing.T) {
		out := fcmMessage(m, now)
		if out.Notification != nil || out.Android == nil || out.Android.Notification != nil || out.Android.CollapseKey != "approval:oa:t1" {
			t.Fatalf("android: %+v / %+v", out.Notification, out.Android)
		}
		h := out.APNS.Headers
		if h["apns-push-type"] != "background" || h["apns-priority"] != "5" || h["apns-collapse-id"] != "approval:oa:t1" ||
			!out.APNS.Payload.Aps.ContentAvailable || out.APNS.Payload.Aps.Alert != nil || out.APNS.Payload.Aps.Sound != "" {
			t.Fatalf("apns: %+v %+v", h, out.APNS.Payload.Aps)
		}
		if out.Data["task_id"] != "oa:t1" || out.Data["category"] != "approval" {
			t.Fatalf("data: %v", out.Data)
		}
	})
	t.Run("a silent notification needs no title", func(t *testing.T) {
		n := Notification{Key: "k", Category: CategoryApproval, Audience: Audience{UserIDs: []string{"u"}}, Silent: true}
		if err := n.validate(now); err != nil {
			t.Fatal(err)
		}
		n.Silent = false
		if err := n.validate(now); err == nil {
			t.Fatal("a visible notification without a title was accepted")
		}
	})
}
