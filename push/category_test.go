package push_test

import (
	"testing"
	"time"

	"github.com/mportal/mportal/push"
)

func TestCategoryPolicy(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		category                    push.Category
		channel, priority, apnsPrio string
		ttl                         time.Duration
		urgent                      bool
	}{
		{push.CategoryApproval, "approvals", "high", "10", day, true},
		{push.CategoryAnnouncement, "announcements", "normal", "5", 7 * day, false},
		{push.CategoryRelease, "releases", "normal", "5", 7 * day, false},
		{push.CategoryFeedbackReply, "feedback", "normal", "5", 7 * day, false},
		{push.CategoryTraining, "training", "normal", "5", 3 * day, false},
		{"unknown", "general", "normal", "5", 7 * day, false},
	}
	for _, tt := range tests {
		t.Run("gives "+string(tt.category)+" its delivery policy", func(t *testing.T) {
			p := tt.category.Policy()
			if p.AndroidChannel != tt.channel || p.AndroidPriority != tt.priority || p.APNsPriority != tt.apnsPrio ||
				p.TTL != tt.ttl || p.Urgent != tt.urgent || tt.category.Urgent() != tt.urgent {
				t.Errorf("Policy() = %+v", p)
			}
		})
	}
	t.Run("offers approval actions only on approvals", func(t *testing.T) {
		for _, c := range push.AllCategories() {
			want := ""
			if c == push.CategoryApproval {
				want = "APPROVAL_ACTIONS"
			}
			if got := c.Policy().APNsCategory; got != want {
				t.Errorf("%s: APNs category %q, want %q", c, got, want)
			}
		}
	})
	t.Run("knows exactly the listed categories", func(t *testing.T) {
		for _, c := range push.AllCategories() {
			if !c.Valid() {
				t.Errorf("%s is listed but not valid", c)
			}
		}
		if push.Category("chat").Valid() {
			t.Error("an unknown category is valid")
		}
	})
}
