package chaos

import (
	"strings"
	"testing"
)

func TestCheckOncePerKey(t *testing.T) {
	creates := []KeyedCreate{
		{Key: "k1", Title: "T1", IDs: []string{"a1", "a1"}},
		{Key: "k2", Title: "T2", IDs: []string{"a2"}, Scheduled: true},
		{Key: "k3", Title: "T3"}, // never acknowledged (the load ended while it was retried)
	}
	stored := []StoredAnnouncement{{"a1", "T1", "published"}, {"a2", "T2", "published"}}
	t.Run("passes when each key made one announcement and replays got its id", func(t *testing.T) {
		if g := CheckOncePerKey(creates, stored); !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
	})
	for _, c := range []struct {
		name    string
		creates []KeyedCreate
		stored  []StoredAnnouncement
		want    string
	}{
		{"fails when a key made two announcements (a replay published a copy)", creates,
			append(stored[:2:2], StoredAnnouncement{"a9", "T1", "published"}), "key k1 made 2 announcements"},
		{"fails when a replay answered another id", []KeyedCreate{{Key: "k1", Title: "T1", IDs: []string{"a1", "a9"}}},
			stored, "carried a9"},
		{"fails when an acknowledged announcement is missing", creates, stored[1:], "no announcement is stored"},
		{"fails when a replay was refused", []KeyedCreate{{Key: "k1", Title: "T1", IDs: []string{"a1"}, Rejected: []int{422}}},
			stored, "answered 422"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := CheckOncePerKey(c.creates, c.stored)
			if g.Pass || !strings.Contains(g.Detail, c.want) {
				t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
			}
		})
	}
}

func TestCheckScheduledOnce(t *testing.T) {
	creates := []KeyedCreate{{Key: "k2", Title: "T2", IDs: []string{"a2"}, Scheduled: true}}
	t.Run("passes when the scheduled announcement was published", func(t *testing.T) {
		if g := CheckScheduledOnce(creates, []StoredAnnouncement{{"a2", "T2", "published"}}); !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
	})
	for _, c := range []struct {
		name   string
		stored []StoredAnnouncement
		want   string
	}{
		{"fails when it was never published", []StoredAnnouncement{{"a2", "T2", "scheduled"}}, "not published"},
		{"fails when it was stored twice", []StoredAnnouncement{{"a2", "T2", "published"}, {"a3", "T2", "published"}}, "stored 2 times"},
		{"fails when it is missing", nil, "stored 0 times"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := CheckScheduledOnce(creates, c.stored)
			if g.Pass || !strings.Contains(g.Detail, c.want) {
				t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
			}
		})
	}
	t.Run("fails when nothing was scheduled", func(t *testing.T) {
		if g := CheckScheduledOnce(nil, nil); g.Pass {
			t.Fatal("passed with no scheduled announcement")
		}
	})
}

func TestCheckFanOut(t *testing.T) {
	tokens := []string{"t1", "t2", "t3"}
	all := []Delivery{{"t1", "n1"}, {"t2", "n1"}, {"t3", "n1"}, {"t1", "other"}}
	t.Run("passes when every device got the fan-out once", func(t *testing.T) {
		if g := CheckFanOut([]string{"n1"}, tokens, all); !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
	})
	t.Run("fails when a device got it twice", func(t *testing.T) {
		g := CheckFanOut([]string{"n1"}, tokens, append(all, Delivery{"t2", "n1"}))
		if g.Pass || !strings.Contains(g.Detail, "t2 got n1 2 times") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("fails when a device never got it", func(t *testing.T) {
		g := CheckFanOut([]string{"n1"}, tokens, all[1:])
		if g.Pass || !strings.Contains(g.Detail, "t1 got n1 0 times") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
}
