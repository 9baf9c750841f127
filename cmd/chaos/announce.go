package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mportal/mportal/internal/chaos"
)

// fanoutDepartment is the department of the seeded push recipients (directory.SeedSimulated):
// the fan-out announcements' audience, apart from the syncing devices'.
const fanoutDepartment = "Fanout"

// announcer publishes announcements with an Idempotency-Key and records every answer.
type announcer struct {
	cl  *client
	ops string

	mu      sync.Mutex
	creates []chaos.KeyedCreate
}

// publish sends one keyed create until a 2xx, replays it replays-1 more times (as an app whose
// answer was lost), and records the ids and refusals. scheduleIn > 0 sets publish_at that far
// ahead. It returns the id of the first 2xx ("" when none came before ctx ended).
func (an *announcer) publish(ctx context.Context, key, title string, audience map[string]any, scheduleIn time.Duration, replays int) string {
	body := map[string]any{"title": title, "body": title + ", from the fault rig.", "audience": audience, "importance": "normal"}
	if scheduleIn > 0 {
		body["publish_at"] = time.Now().Add(scheduleIn).UTC().Format(time.RFC3339Nano)
	}
	kc := chaos.KeyedCreate{Key: key, Title: title, Scheduled: scheduleIn > 0}
	header := map[string]string{"Idempotency-Key": strconv.Quote(key)}
	for len(kc.IDs) < replays && ctx.Err() == nil {
		var a struct {
			ID string `json:"id"`
		}
		status, err := an.cl.doWith(ctx, "POST", "/v1/ops/announcements", an.ops, header, body, &a)
		if err == nil {
			kc.IDs = append(kc.IDs, a.ID)
			continue
		}
		if status >= 400 && status < 500 && status != 429 {
			kc.Rejected = append(kc.Rejected, status)
			break
		}
		sleep(ctx, 300*time.Millisecond)
	}
	an.mu.Lock()
	an.creates = append(an.creates, kc)
	an.mu.Unlock()
	if len(kc.IDs) == 0 {
		return ""
	}
	return kc.IDs[0]
}

// fanout is one announcement to every seeded device and how long its delivery took.
type fanout struct {
	id   string
	took time.Duration // from the 2xx to the fake FCM's last message for it; 0 when unfinished
}

// watchFanout waits until the fake FCM accepted n messages for notification id, or ctx ends.
// It reports the progress every 15 s.
func watchFanout(ctx context.Context, c *cluster, id string, n int, acked time.Time) time.Duration {
	last := time.Now()
	for ctx.Err() == nil {
		got := 0
		for _, m := range c.fcm.Messages() {
			if m.Data["announcement_id"] == id {
				got++
			}
		}
		if got >= n {
			took := time.Since(acked)
			say("fan-out %s: %d messages in %s", id, got, took.Round(100*time.Millisecond))
			return took
		}
		if time.Since(last) > 15*time.Second {
			say("fan-out %s: %d of %d messages after %s", id, got, n, time.Since(acked).Round(time.Second))
			last = time.Now()
		}
		sleep(ctx, 500*time.Millisecond)
	}
	return 0
}

// storedAnnouncements lists every announcement as ops see it.
func storedAnnouncements(ctx context.Context, cl *client, ops string) ([]chaos.StoredAnnouncement, error) {
	var out struct {
		Items []struct{ ID, Title, Status string }
	}
	if err := cl.retry(ctx, "GET", "/v1/ops/announcements", ops, nil, &out); err != nil {
		return nil, fmt.Errorf("list announcements: %w", err)
	}
	stored := make([]chaos.StoredAnnouncement, len(out.Items))
	for i, a := range out.Items {
		stored[i] = chaos.StoredAnnouncement{ID: a.ID, Title: a.Title, Status: a.Status}
	}
	return stored, nil
}
