package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/push"
	"github.com/mportal/mportal/push/fcmfake"
)

// TestPushSurvivesServerRestart stops the whole server while a notification is being delivered
// and starts a new one on the same database: every device gets exactly one message, counted at
// the fake FCM. The first 500 devices answer at once and the rest slowly, so the stop lands while
// sends are in flight; exactly-once must hold whatever the interleaving.
func TestPushSurvivesServerRestart(t *testing.T) {
	fake, fcmEnv, configure := fakeFCM(t)
	env := testEnv(t, fcmEnv)
	ts := startServer(t, env, configure)
	ctx := context.Background()

	const users, perUser = 550, 2
	var tokens []string
	for u := 0; u < users; u++ {
		user, _, err := ts.main.users.Create(ctx, systemActor, directory.CreateUser{
			EmployeeNo: fmt.Sprintf("R%04d", u), Name: fmt.Sprintf("Restart %d", u), Department: "Field",
		})
		if err != nil {
			t.Fatal(err)
		}
		for d := 0; d < perUser; d++ {
			speed := "fast"
			if len(tokens) >= push.MaxBatch {
				speed = "slow"
			}
			token := fmt.Sprintf("%s-%04d-%d", speed, u, d)
			_, err := ts.main.devices.CheckIn(ctx, &auth.Principal{UserID: user.ID}, fmt.Sprintf("dev-%d", d), directory.DeviceInput{
				Platform: "android", Model: "Pixel", OSVersion: "15", AppID: "com.example.portal", AppVersion: "1.0",
				BuildNumber: 1, Channel: "stable", Locale: "en", Timezone: "Asia/Shanghai", PushToken: token, PushEnabled: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, token)
		}
	}
	fake.SetBehavior("slow-*", fcmfake.Behavior{Delay: 1500 * time.Millisecond})

	n := announcement("restart-1", push.Audience{Departments: []string{"Field"}})
	if _, _, err := ts.main.push.Enqueue(ctx, n); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the first messages reach the fake", func() bool { return fake.Total() > 0 })
	ts.stop()
	stoppedAt := fake.Total()

	again := startServer(t, env, configure)
	eventually(t, 60*time.Second, "the notification completes after the restart", func() bool {
		st, err := again.main.push.Status(ctx, n.Key)
		return err == nil && st.State == push.StateDone
	})
	for _, tok := range tokens {
		if c := fake.Count(tok); c != 1 {
			t.Fatalf("device %s got %d messages, want exactly 1 (stopped after %d of %d)", tok, c, stoppedAt, len(tokens))
		}
	}
	t.Logf("stopped after %d of %d messages; the restarted server delivered the rest", stoppedAt, len(tokens))
}
