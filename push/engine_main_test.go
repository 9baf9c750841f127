package push_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
	"github.com/mportal/mportal/push/fcmfake"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// outboxFCM starts a fake FCM server and a real FCMSender (the Firebase SDK) pointed at it.
func outboxFCM(t testing.TB) (*push.FCMSender, *fcmfake.Server) {
	t.Helper()
	fake := fcmfake.New()
	t.Cleanup(fake.Close)
	s, err := push.NewFCMSender(context.Background(), "", fake.SenderOptions()...)
	if err != nil {
		t.Fatalf("NewFCMSender: %v", err)
	}
	return s, fake
}

// newEngine returns an engine over the directory in db, polling often so tests run fast.
func newEngine(db *mongodb.DB, sender push.Sender, inbox push.InboxWriter) *push.Engine {
	e := &push.Engine{
		DB: db, Recipients: &directory.Recipients{DB: db}, Inbox: inbox,
		PollInterval: 10 * time.Millisecond, LeaseTTL: 5 * time.Second, BackoffBase: time.Millisecond,
		BackoffCap: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Sender: sender,
	}
	return e
}

// run starts e.Run and returns a stop function that cancels it and waits for it to return.
func run(t testing.TB, e *push.Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond until it holds or the deadline passes: a bound for a loaded CI machine
// (a fan-out of thousands under -race, sharing two cores with other packages), not a target.
func eventually(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDone waits until notification id is done.
func waitDone(t testing.TB, e *push.Engine, id string) {
	t.Helper()
	eventually(t, id+" is done", func() (bool, error) {
		s, err := e.Status(context.Background(), id)
		return err == nil && s.State == push.StateDone, err
	})
}

// memInbox is an InboxWriter in memory.
type memInbox struct {
	mu    sync.Mutex
	items map[string]push.InboxItem
	adds  int
}

func (m *memInbox) Add(_ context.Context, items []push.InboxItem) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = make(map[string]push.InboxItem)
	}
	for _, it := range items {
		if _, ok := m.items[it.ID]; !ok {
			m.items[it.ID] = it
		}
		m.adds++
	}
	return nil
}

func (m *memInbox) has(userID, notificationID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.items[userID+"/"+notificationID]
	return ok
}

func (m *memInbox) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// seeded is a directory written straight into the users and devices collections, which is
// faster than check-ins for thousands of devices.
type seeded struct {
	users  []string
	tokens []string // tokens[i] belongs to the device of users[i]
}

// seedDirectory writes n active users with one pushable Android device each; the device of
// user i has token "tok-<prefix>-<i>".
func seedDirectory(t testing.TB, db *mongodb.DB, prefix string, n int) seeded {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var s seeded
	const chunk = 5000
	for start := 0; start < n; start += chunk {
		var users, devices, tokens []any
		for i := start; i < min(n, start+chunk); i++ {
			uid := fmt.Sprintf("%s-u%06d", prefix, i)
			tok := fmt.Sprintf("tok-%s-%d", prefix, i)
			key := uid + "/phone"
			users = append(users, directory.User{ID: uid, EmployeeNo: fmt.Sprintf("%s%06d", prefix, i), Name: uid,
				Department: "Sales", Roles: []auth.Role{auth.RoleEmployee}, Locale: "zh-CN", Timezone: "Asia/Shanghai",
				Status: directory.StatusActive, CreatedAt: now, UpdatedAt: now})
			devices = append(devices, directory.Device{Key: key, UserID: uid, DeviceID: "phone", Platform: "android",
				Channel: "stable", Locale: "zh-CN", Timezone: "Asia/Shanghai", PushToken: tok, PushEnabled: true,
				CreatedAt: now, LastSeenAt: now})
			tokens = append(tokens, bson.D{{Key: "_id", Value: tok}, {Key: "user_id", Value: uid},
				{Key: "device_key", Value: key}, {Key: "updated_at", Value: now}})
			s.users, s.tokens = append(s.users, uid), append(s.tokens, tok)
		}
		for coll, docs := range map[string][]any{"users": users, "devices": devices, "push_tokens": tokens} {
			if _, err := db.Collection(coll).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
				t.Fatalf("seed %s: %v", coll, err)
			}
		}
	}
	return s
}

// countingSender wraps a Sender and records the batch sizes it was given.
type countingSender struct {
	push.Sender
	mu       sync.Mutex
	calls    int
	maxBatch int
	after    func(call int) // called after each Send, e.g. to stop the engine
}

func (c *countingSender) Send(ctx context.Context, msgs []push.Message) ([]push.Result, error) {
	res, err := c.Sender.Send(ctx, msgs)
	c.mu.Lock()
	c.calls++
	c.maxBatch = max(c.maxBatch, len(msgs))
	call := c.calls
	c.mu.Unlock()
	if c.after != nil {
		c.after(call)
	}
	return res, err
}

// announcement is a notification to everyone.
func announcement(key string) push.Notification {
	return push.Notification{Key: key, Category: push.CategoryAnnouncement, Audience: push.Audience{All: true},
		Title: map[string]string{"zh-CN": "公告", "en": "Announcement"},
		Body:  map[string]string{"zh-CN": "正文", "en": "Body"}, DeepLink: "mportal://announcements/" + key}
}

func enqueue(t testing.TB, e *push.Engine, n push.Notification) string {
	t.Helper()
	id, _, err := e.Enqueue(context.Background(), n)
	if err != nil {
		t.Fatalf("enqueue %s: %v", n.Key, err)
	}
	return id
}

// exactlyOnce fails unless every token got exactly one message.
func exactlyOnce(t testing.TB, fake *fcmfake.Server, tokens []string) {
	t.Helper()
	exactly(t, fake, tokens, 1)
}

// exactly checks that every device got n messages. A notification can be done while an
// engine whose lease ran out still has a part's messages on their way (they were claimed, so
// no one else sends them): it first waits for every device to have n.
func exactly(t testing.TB, fake *fcmfake.Server, tokens []string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("every device has %d messages", n), func() (bool, error) {
		for _, tok := range tokens {
			if fake.Count(tok) < n {
				return false, nil
			}
		}
		return true, nil
	})
	var bad []string
	for _, tok := range tokens {
		if c := fake.Count(tok); c != n {
			bad = append(bad, fmt.Sprintf("%s:%d", tok, c))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d devices did not get exactly %d messages, e.g. %v", len(bad), len(tokens), n, bad[:min(len(bad), 5)])
	}
}
