package announce

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// countingPusher records how often each notification key was enqueued.
type countingPusher struct {
	mu   sync.Mutex
	keys map[string]int
	last map[string]push.Notification
	fail error // when set, Enqueue fails with it and records nothing
}

func (c *countingPusher) Enqueue(_ context.Context, n push.Notification) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return "", false, c.fail
	}
	if c.keys == nil {
		c.keys, c.last = map[string]int{}, map[string]push.Notification{}
	}
	c.keys[n.Key]++
	c.last[n.Key] = n
	return n.Key, c.keys[n.Key] == 1, nil
}

// publishedTitle checks that announcement id was pushed once and returns the push's English
// title.
func (c *countingPusher) publishedTitle(t *testing.T, id string) string {
	t.Helper()
	key := "announcement:" + id + ":publish"
	if n := c.count(key); n != 1 {
		t.Fatalf("pushed %d times, want once", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last[key].Title["en"]
}

func (c *countingPusher) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys[key]
}

// staticMembers is a directory of fixed users.
type staticMembers struct{ members []directory.Member }

func (s staticMembers) Members(context.Context, push.Audience) ([]directory.Member, error) {
	return s.members, nil
}
func (s staticMembers) UserChannels(context.Context, string) ([]string, error) {
	return []string{"beta"}, nil
}

var opsUser = &auth.Principal{UserID: "ops1", Roles: []auth.Role{auth.RoleOps}}

func ptr[T any](v T) *T { return &v }

func TestRender(t *testing.T) {
	for _, c := range []struct {
		name, markdown string
		want, forbid   []string
		excerpt        string
	}{
		{"renders emphasis and lists", "Hello **team**\n\n- one\n- two", []string{"<strong>team</strong>", "<li>one</li>"}, nil, "Hello team one two"},
		{"drops raw script and event handlers", "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>", nil, []string{"<script", "onerror"}, ""},
		{"drops javascript links", "[click](javascript:alert(1))", nil, []string{"javascript:"}, "click"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, excerpt, _, err := render(c.markdown)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			for _, f := range c.forbid {
				if strings.Contains(got, f) {
					t.Errorf("%q contains %q", got, f)
				}
			}
			if excerpt != c.excerpt {
				t.Errorf("excerpt %q, want %q", excerpt, c.excerpt)
			}
		})
	}
	t.Run("cuts long excerpts with an ellipsis", func(t *testing.T) {
		_, excerpt, _, _ := render(strings.Repeat("字", 500))
		if n := len([]rune(excerpt)); n != excerptLen || !strings.HasSuffix(excerpt, "…") {
			t.Fatalf("excerpt of %d characters: %q", n, excerpt)
		}
	})
}

func TestPublishDue(t *testing.T) {
	db := testenv.Mongo(t)
	pusher := &countingPusher{}
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	// Several instances on one database, as behind a load balancer.
	instances := make([]*Service, 4)
	for i := range instances {
		instances[i] = &Service{DB: db, Push: pusher, Members: staticMembers{}, Now: clock}
	}
	ctx := context.Background()
	a, err := instances[0].Create(ctx, opsUser, Input{Title: ptr("Later"), Body: ptr("Soon."),
		Audience: &Audience{Departments: []string{"Sales"}}, PublishAt: Optional[time.Time]{Set: true, Value: ptr(now.Add(time.Minute))}})
	if err != nil {
		t.Fatal(err)
	}
	key := "announcement:" + a.ID + ":publish"

	t.Run("does not publish before publish_at", func(t *testing.T) {
		if err := instances[1].PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		if pusher.count(key) != 0 {
			t.Fatal("published early")
		}
	})
	t.Run("publishes exactly once when many instances race", func(t *testing.T) {
		now = now.Add(2 * time.Minute)
		var wg sync.WaitGroup
		for _, s := range instances {
			for range 5 {
				wg.Go(func() {
					if err := s.PublishDue(ctx); err != nil {
						t.Error(err)
					}
				})
			}
		}
		wg.Wait()
		if n := pusher.count(key); n != 1 {
			t.Fatalf("enqueued %d times", n)
		}
		for _, s := range instances {
			got, err := s.Get(ctx, opsUser, a.ID)
			if err != nil || got.Status != StatusPublished {
				t.Fatalf("status %v, %v", got, err)
			}
		}
	})
	t.Run("never publishes a withdrawn announcement", func(t *testing.T) {
		b, err := instances[0].Create(ctx, opsUser, Input{Title: ptr("Cancelled"), Body: ptr("No."),
			Audience: &Audience{All: true}, PublishAt: Optional[time.Time]{Set: true, Value: ptr(now.Add(time.Minute))}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := instances[2].Withdraw(ctx, opsUser, b.ID); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Minute)
		if err := instances[3].PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		if n := pusher.count("announcement:" + b.ID + ":publish"); n != 0 {
			t.Fatalf("enqueued %d times", n)
		}
	})
}

func TestRemind(t *testing.T) {
	db := testenv.Mongo(t)
	pusher := &countingPusher{}
	now := time.Now().UTC()
	members := staticMembers{[]directory.Member{{UserID: "u1", Department: "Sales"}, {UserID: "u2", Department: "Sales"}}}
	s := &Service{DB: db, Push: pusher, Members: members, Now: func() time.Time { return now }}
	ctx := context.Background()
	a, err := s.Create(ctx, opsUser, Input{Title: ptr("Policy"), Body: ptr("Read me."),
		Audience: &Audience{Departments: []string{"Sales"}}, Importance: ptr(Important)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRead(ctx, &auth.Principal{UserID: "u1", Department: "Sales"}, a.ID); err != nil {
		t.Fatal(err)
	}

	t.Run("sends one reminder when many calls race", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		sent, conflicts := 0, 0
		for range 8 {
			wg.Go(func() {
				_, err := s.Remind(ctx, opsUser, a.ID)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					sent++
				case apperr.Is(err, apperr.Conflict):
					conflicts++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		key := "announcement:" + a.ID + ":remind:1"
		if sent != 1 || conflicts != 7 || pusher.count(key) != 1 {
			t.Fatalf("sent %d, conflicts %d, enqueued %d", sent, conflicts, pusher.count(key))
		}
		if got := pusher.last[key].Audience.UserIDs; len(got) != 1 || got[0] != "u2" {
			t.Fatalf("reminded %v", got)
		}
	})
	t.Run("allows the next reminder a day later", func(t *testing.T) {
		now = now.Add(RemindEvery)
		r, err := s.Remind(ctx, opsUser, a.ID)
		if err != nil || r.Number != 2 || r.Recipients != 1 {
			t.Fatalf("reminder %+v, %v", r, err)
		}
	})
	t.Run("gives the reminder back when it cannot be enqueued", func(t *testing.T) {
		now = now.Add(RemindEvery)
		pusher.mu.Lock()
		pusher.fail = apperr.New(apperr.Unavailable, "push outbox unavailable")
		pusher.mu.Unlock()
		if _, err := s.Remind(ctx, opsUser, a.ID); !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("Remind with a failing outbox = %v, want unavailable", err)
		}
		pusher.mu.Lock()
		pusher.fail = nil
		pusher.mu.Unlock()
		r, err := s.Remind(ctx, opsUser, a.ID)
		if err != nil || r.Number != 3 {
			t.Fatalf("the retry should send reminder 3 at once: %+v, %v", r, err)
		}
		if n := pusher.count("announcement:" + a.ID + ":remind:3"); n != 1 {
			t.Fatalf("reminder 3 enqueued %d times", n)
		}
	})
	t.Run("matches channel audiences through the reader's devices", func(t *testing.T) {
		b, err := s.Create(ctx, opsUser, Input{Title: ptr("Beta build"), Body: ptr("Try it."),
			Audience: &Audience{Channels: []string{"beta"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Read(ctx, &auth.Principal{UserID: "u9"}, b.ID); err != nil {
			t.Fatalf("a beta user cannot read it: %v", err)
		}
	})
}
