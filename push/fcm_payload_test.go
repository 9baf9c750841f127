package push_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/mportal/mportal/push"
	"github.com/mportal/mportal/push/fcmfake"
)

func TestFCMSenderPayloadFollowsCategoryPolicy(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	expires := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	const day = 24 * time.Hour
	tests := []struct {
		name        string
		msg         push.Message
		wantAndroid *fcmfake.Android
		wantAPNS    *fcmfake.APNS
	}{
		{
			// Without a collapse key the notification id is the shown notification's tag and
			// collapse id, so that a second copy (a send whose answer was lost) replaces it.
			name: "sends an approval at high priority with actions and no collapsing",
			msg:  push.Message{Category: push.CategoryApproval},
			wantAndroid: &fcmfake.Android{Priority: "high", TTL: "86400s", ChannelID: "approvals",
				NotificationPriority: "PRIORITY_HIGH", Tag: "notif-1"},
			wantAPNS: &fcmfake.APNS{Headers: map[string]string{"apns-priority": "10", "apns-push-type": "alert",
				"apns-expiration": expires(day), "apns-collapse-id": "notif-1"}, Category: "APPROVAL_ACTIONS", ThreadID: "approval"},
		},
		{
			name: "sends an announcement at normal priority for a week",
			msg:  push.Message{Category: push.CategoryAnnouncement},
			wantAndroid: &fcmfake.Android{Priority: "normal", TTL: "604800s", ChannelID: "announcements",
				NotificationPriority: "PRIORITY_DEFAULT", Tag: "notif-1"},
			wantAPNS: &fcmfake.APNS{Headers: map[string]string{"apns-priority": "5", "apns-push-type": "alert",
				"apns-expiration": expires(7 * day), "apns-collapse-id": "notif-1"}, ThreadID: "announcement"},
		},
		{
			name: "collapses release notices by default",
			msg:  push.Message{Category: push.CategoryRelease},
			wantAndroid: &fcmfake.Android{CollapseKey: "release", Priority: "normal", TTL: "604800s",
				ChannelID: "releases", NotificationPriority: "PRIORITY_DEFAULT", Tag: "release"},
			wantAPNS: &fcmfake.APNS{Headers: map[string]string{"apns-priority": "5", "apns-push-type": "alert",
				"apns-expiration": expires(7 * day), "apns-collapse-id": "release"}, ThreadID: "release"},
		},
		{
			name: "uses the message's own collapse key and TTL",
			msg:  push.Message{Category: push.CategoryFeedbackReply, CollapseKey: "feedback:42", TTL: time.Hour},
			wantAndroid: &fcmfake.Android{CollapseKey: "feedback:42", Priority: "normal", TTL: "3600s",
				ChannelID: "feedback", NotificationPriority: "PRIORITY_DEFAULT", Tag: "feedback:42"},
			wantAPNS: &fcmfake.APNS{Headers: map[string]string{"apns-priority": "5", "apns-push-type": "alert",
				"apns-expiration": expires(time.Hour), "apns-collapse-id": "feedback:42"}, ThreadID: "feedback_reply"},
		},
		{
			name: "keeps training reminders for three days",
			msg:  push.Message{Category: push.CategoryTraining},
			wantAndroid: &fcmfake.Android{Priority: "normal", TTL: "259200s", ChannelID: "training",
				NotificationPriority: "PRIORITY_DEFAULT", Tag: "notif-1"},
			wantAPNS: &fcmfake.APNS{Headers: map[string]string{"apns-priority": "5", "apns-push-type": "alert",
				"apns-expiration": expires(3 * day), "apns-collapse-id": "notif-1"}, ThreadID: "training"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, fake := newSender(t)
			s.Now = func() time.Time { return now }
			m := tt.msg
			m.ID, m.Token, m.Title, m.Body = "notif-1/dev-1", "tok", "标题", "正文"
			m.DeepLink = "mportal://x/1"
			m.Data = map[string]string{"notification_id": "notif-1", "item_id": "1"}
			send(t, s, m)
			got := fake.Messages()
			if len(got) != 1 {
				t.Fatalf("fake got %d messages, want 1", len(got))
			}
			r := got[0]
			if tt.wantAPNS != nil {
				tt.wantAPNS.Title, tt.wantAPNS.Body, tt.wantAPNS.Sound = "标题", "正文", "default"
			}
			want := fcmfake.Received{
				Seq: 1, Name: "projects/" + fcmfake.ProjectID + "/messages/1", Token: "tok",
				Title: "标题", Body: "正文", AnalyticsLabel: string(m.Category),
				Data: map[string]string{"notification_id": "notif-1", "item_id": "1",
					"category": string(m.Category), "deep_link": "mportal://x/1", "delivery_id": "notif-1/dev-1"},
				Android: tt.wantAndroid, APNS: tt.wantAPNS, Authorization: r.Authorization,
			}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("received message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFCMSenderPayloadPerPlatform(t *testing.T) {
	s, fake := newSender(t)
	android, ios := message("android-token"), message("ios-token")
	ios.Platform = "ios"
	shared := map[string]string{"category": "set-by-engine"}
	android.Data, ios.Data = shared, shared
	send(t, s, android, ios)
	for _, r := range fake.Messages() {
		isIOS := r.Token == "ios-token"
		if (r.APNS != nil) != isIOS || (r.Android != nil) == isIOS {
			t.Errorf("%s: android config %v, apns config %v; want only its own platform's", r.Token, r.Android != nil, r.APNS != nil)
		}
		if r.Data["category"] != "set-by-engine" {
			t.Errorf("%s: data category = %q; the engine's value must win", r.Token, r.Data["category"])
		}
	}
	if len(shared) != 1 {
		t.Errorf("sender changed the caller's Data map: %v", shared)
	}
}

func TestFCMSenderShortensLongAPNsCollapseIDs(t *testing.T) {
	s, fake := newSender(t)
	long := strings.Repeat("k", 100)
	a, b := message("a"), message("b")
	a.Platform, b.Platform = "ios", "ios"
	a.CollapseKey, b.CollapseKey = long+"1", long+"2"
	send(t, s, a, b)
	ids := map[string]bool{}
	for _, r := range fake.Messages() {
		id := r.APNS.Headers["apns-collapse-id"]
		if len(id) > 64 {
			t.Errorf("apns-collapse-id is %d bytes, over Apple's 64", len(id))
		}
		ids[id] = true
	}
	if len(ids) != 2 {
		t.Errorf("distinct collapse keys got %d distinct collapse ids, want 2", len(ids))
	}
}

func TestNewFCMSenderWithCredentialsFile(t *testing.T) {
	fake := fcmfake.New()
	t.Cleanup(fake.Close)
	t.Run("reads the project from the file and authenticates with its key", func(t *testing.T) {
		file, err := fake.WriteCredentialsFile(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		s, err := push.NewFCMSender(context.Background(), file, option.WithEndpoint(fake.URL+"/v1"))
		if err != nil {
			t.Fatalf("NewFCMSender: %v", err)
		}
		send(t, s, message("a"))
		r := fake.Messages()[0]
		if want := "projects/" + fcmfake.ProjectID + "/messages/1"; r.Name != want {
			t.Errorf("message name = %q, want %q", r.Name, want)
		}
		if want := "Bearer " + fcmfake.AccessToken; r.Authorization != want {
			t.Errorf("Authorization = %q, want %q", r.Authorization, want)
		}
	})
	t.Run("rejects a missing credentials file", func(t *testing.T) {
		if _, err := push.NewFCMSender(context.Background(), t.TempDir()+"/missing.json"); err == nil {
			t.Error("NewFCMSender accepted a missing credentials file")
		}
	})
}
