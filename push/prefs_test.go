package push_test

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/push"
)

func TestPrefsStore(t *testing.T) {
	f := newFixture(t)
	store := &push.PrefsStore{DB: f.db}
	dan := &auth.Principal{UserID: "dan"}

	t.Run("returns the defaults for a user who set nothing", func(t *testing.T) {
		p, err := store.Get(f.ctx, dan)
		if err != nil || len(p.Off) != 0 || p.QuietStart != "" {
			t.Fatalf("got %+v, %v", p, err)
		}
	})
	t.Run("stores and returns preferences", func(t *testing.T) {
		in := push.Prefs{Off: []push.Category{push.CategoryTraining, push.CategoryAnnouncement, push.CategoryTraining},
			QuietStart: "22:00", QuietEnd: "07:00"}
		if _, err := store.Set(f.ctx, dan, in); err != nil {
			t.Fatal(err)
		}
		p, err := store.Get(f.ctx, dan)
		if err != nil || len(p.Off) != 2 || p.Off[0] != push.CategoryAnnouncement || p.QuietEnd != "07:00" {
			t.Fatalf("got %+v, %v", p, err)
		}
	})
	tests := []struct {
		name  string
		prefs push.Prefs
		field string
	}{
		{"rejects an unknown category", push.Prefs{Off: []push.Category{"gossip"}}, "off"},
		{"rejects a bad start time", push.Prefs{QuietStart: "25:00", QuietEnd: "07:00"}, "quiet_start"},
		{"rejects a missing end time", push.Prefs{QuietStart: "22:00"}, "quiet_end"},
		{"rejects an unknown time zone", push.Prefs{QuietStart: "22:00", QuietEnd: "07:00", Timezone: "Mars/Base"}, "timezone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.Set(f.ctx, dan, tt.prefs)
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != tt.field {
				t.Fatalf("error %v, want invalid %s", err, tt.field)
			}
		})
	}
	t.Run("requires a principal", func(t *testing.T) {
		if _, err := store.Get(f.ctx, nil); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCategoryOffMeansInboxOnly(t *testing.T) {
	f := newFixture(t)
	erin, frank := f.user(t, "erin"), f.user(t, "frank")
	f.phone(t, erin, "phone", "tok-erin")
	f.phone(t, frank, "phone", "tok-frank")
	store := &push.PrefsStore{DB: f.db}
	if _, err := store.Set(f.ctx, erin, push.Prefs{Off: []push.Category{push.CategoryAnnouncement}}); err != nil {
		t.Fatal(err)
	}
	run(t, f.engine)
	ann := enqueue(t, f.engine, announcement("ann-prefs"))
	approval := enqueue(t, f.engine, toUsers("approval-1", push.CategoryApproval, "erin"))
	waitDone(t, f.engine, ann)
	waitDone(t, f.engine, approval)

	if f.fake.Count("tok-erin") != 1 || f.fake.Count("tok-frank") != 1 {
		t.Fatalf("erin got %d (want only the approval), frank %d", f.fake.Count("tok-erin"), f.fake.Count("tok-frank"))
	}
	if m := f.fake.Messages(); len(m) != 2 {
		t.Fatalf("%d messages", len(m))
	}
	if !f.inbox.has("erin", ann) || !f.inbox.has("frank", ann) || !f.inbox.has("erin", approval) {
		t.Fatal("the inbox misses an item")
	}
}

func TestQuietHoursDelayNonUrgentPushes(t *testing.T) {
	f := newFixture(t)
	// 23:30 in Shanghai, where the device is.
	f.clock.Set(time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC))
	gina := f.user(t, "gina")
	f.phone(t, gina, "phone", "tok-gina")
	if _, err := (&push.PrefsStore{DB: f.db}).Set(f.ctx, gina, push.Prefs{QuietStart: "22:00", QuietEnd: "07:00"}); err != nil {
		t.Fatal(err)
	}
	run(t, f.engine)
	ann := enqueue(t, f.engine, toUsers("ann-night", push.CategoryAnnouncement, "gina"))
	approval := enqueue(t, f.engine, toUsers("approval-night", push.CategoryApproval, "gina"))

	t.Run("sends urgent categories during quiet hours", func(t *testing.T) {
		waitDone(t, f.engine, approval)
		if f.fake.Count("tok-gina") != 1 || f.fake.Messages()[0].Data["notification_id"] != approval {
			t.Fatalf("messages %+v", f.fake.Messages())
		}
	})
	t.Run("sends a notification marked urgent during quiet hours, whatever its category", func(t *testing.T) {
		n := toUsers("training-due-tonight", push.CategoryTraining, "gina")
		n.Urgent = true
		due := enqueue(t, f.engine, n)
		waitDone(t, f.engine, due)
		if f.fake.Count("tok-gina") != 2 || f.fake.Messages()[1].Data["notification_id"] != due {
			t.Fatalf("messages %+v", f.fake.Messages())
		}
	})
	morning := time.Date(2026, 3, 3, 7, 0, 0, 0, mustZone(t, "Asia/Shanghai"))
	t.Run("holds the rest until the quiet hours end", func(t *testing.T) {
		var batch struct {
			NotBefore time.Time `bson:"not_before"`
		}
		eventually(t, "the announcement is queued", func() (bool, error) {
			err := f.db.Collection("push_batches").FindOne(f.ctx, bson.D{{Key: "notification", Value: ann}}).Decode(&batch)
			return err == nil, nil
		})
		if !batch.NotBefore.Equal(morning) {
			t.Fatalf("held until %v, want %v", batch.NotBefore, morning)
		}
		if !f.inbox.has("gina", ann) {
			t.Fatal("the inbox item must not wait")
		}
	})
	t.Run("sends them when the quiet hours end", func(t *testing.T) {
		f.clock.Set(morning)
		waitDone(t, f.engine, ann)
		if f.fake.Count("tok-gina") != 3 {
			t.Fatalf("%d messages", f.fake.Count("tok-gina"))
		}
	})
}

func TestUnreachableDevicesAreSkipped(t *testing.T) {
	f := newFixture(t)
	start := f.clock.Now()
	hank := f.user(t, "hank")
	f.phone(t, hank, "drawer", "tok-stale") // last seen 271 days before the send
	f.clock.Set(start.Add(271 * 24 * time.Hour))
	f.phone(t, hank, "muted", "tok-muted", func(in *directory.DeviceInput) { in.PushEnabled = false })
	f.phone(t, hank, "tokenless", "")
	f.phone(t, hank, "daily", "tok-daily")
	f.user(t, "ivy") // has no device at all
	run(t, f.engine)
	id := enqueue(t, f.engine, announcement("ann-stale"))
	waitDone(t, f.engine, id)

	for tok, want := range map[string]int{"tok-stale": 0, "tok-muted": 0, "tok-daily": 1} {
		if got := f.fake.Count(tok); got != want {
			t.Errorf("%s got %d messages, want %d", tok, got, want)
		}
	}
	if f.fake.Total() != 1 {
		t.Errorf("fake got %d messages", f.fake.Total())
	}
	if !f.inbox.has("hank", id) || !f.inbox.has("ivy", id) {
		t.Error("every audience user gets an inbox item, with or without a reachable device")
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
