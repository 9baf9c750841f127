package training

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
)

// pushes records what the notices enqueue.
type pushes struct {
	mu sync.Mutex
	ns []push.Notification
}

func (p *pushes) Enqueue(_ context.Context, n push.Notification) (string, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ns = append(p.ns, n)
	return n.Key, true, nil
}

// take returns and forgets what was enqueued so far, as "<video> <step> <user>" lines (one per user
// of each push, " urgent" appended when it skips quiet hours), sorted.
func (p *pushes) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, n := range p.ns {
		for _, u := range n.Audience.UserIDs {
			line := n.Data["video_id"] + " " + n.Data["training_event"] + " " + u
			if n.Urgent {
				line += " urgent"
			}
			out = append(out, line)
		}
	}
	p.ns = nil
	slices.Sort(out)
	return out
}

// people is a directory: user id -> department and roles. Members applies push.Audience's
// union rule, as directory.Recipients does.
type people struct {
	mu    sync.Mutex
	users map[string]person
}

type person struct {
	dept  string
	roles []string
}

func (d *people) set(id, dept string, roles ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[id] = person{dept, roles}
}

func (d *people) Members(_ context.Context, aud push.Audience) ([]directory.Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []directory.Member
	for id, p := range d.users {
		if aud.All || slices.Contains(aud.Departments, p.dept) || slices.Contains(aud.UserIDs, id) ||
			slices.ContainsFunc(p.roles, func(r string) bool { return slices.Contains(aud.Roles, r) }) {
			out = append(out, directory.Member{UserID: id, Department: p.dept})
		}
	}
	return out, nil
}

// completions is the stub of the training_progress store: the users who completed each video.
type completions struct {
	mu   sync.Mutex
	done map[string]bool // "<video>:<user>"
}

func (c *completions) Completed(_ context.Context, videoID string, users []string) (map[string]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for _, u := range users {
		if c.done[videoID+":"+u] {
			out[u] = true
		}
	}
	return out, nil
}

type noticeFixture struct {
	t     *testing.T
	svc   *Service
	clock *testenv.Clock
	sent  *pushes
	dir   *people
	done  *completions
	prefs *push.PrefsStore
	n     *Notices
}

// noticeStart is Monday 2 March 2026, 09:00 UTC.
var noticeStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newNoticeFixture(t *testing.T) *noticeFixture {
	db := testenv.Mongo(t)
	f := &noticeFixture{t: t, clock: testenv.NewClock(noticeStart), sent: &pushes{},
		dir: &people{users: map[string]person{}}, done: &completions{done: map[string]bool{}}, prefs: &push.PrefsStore{DB: db}}
	f.svc = &Service{DB: db, Now: f.clock.Now}
	f.n = f.worker()
	if err := f.n.EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}
	return f
}

// worker is one replica's notices worker.
func (f *noticeFixture) worker() *Notices {
	return &Notices{DB: f.svc.DB, Push: f.sent, Prefs: f.prefs, Members: f.dir, Completions: f.done, Now: f.clock.Now}
}

// video stores a required video due after due (from noticeStart), watchable when ready and
// published as asked, for roles and departments.
func (f *noticeFixture) video(id string, due time.Duration, ready, published bool, roles, depts []string) {
	f.t.Helper()
	at := noticeStart.Add(due)
	d := videoDoc{ID: id, Title: "Safety " + id, Roles: roles, Departments: depts, Required: true, DueAt: &at,
		Published: published, Status: StatusProcessing, CreatedAt: noticeStart, UpdatedAt: noticeStart}
	if ready {
		d.Status, d.Current = StatusReady, &revision{ID: "job-" + id, DurationMS: 60_000}
	}
	if _, err := f.svc.DB.Collection(videosColl).InsertOne(f.t.Context(), d); err != nil {
		f.t.Fatal(err)
	}
}

// edit changes a stored video (ops' PATCH or the worker's processing) through the service.
func (f *noticeFixture) edit(id string, fn func(d *videoDoc)) {
	f.t.Helper()
	err := f.svc.modify(f.t.Context(), id, func(d *videoDoc) (bson.D, error) {
		fn(d)
		return append(d.metadata(), d.processing()...), nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// at runs one pass at noticeStart+d and returns what it enqueued.
func (f *noticeFixture) at(d time.Duration) []string {
	f.t.Helper()
	f.clock.Set(noticeStart.Add(d))
	if _, err := f.n.RunOnce(f.t.Context()); err != nil {
		f.t.Fatal(err)
	}
	return f.sent.take()
}

func (f *noticeFixture) expect(d time.Duration, want ...string) {
	f.t.Helper()
	got := f.at(d)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		f.t.Errorf("at +%v: sent %q, want %q", d, got, want)
	}
}

func TestRequiredTrainingIsPushedOncePerUser(t *testing.T) {
	f := newNoticeFixture(t)
	f.dir.set("ann", "Sales", "employee")
	f.dir.set("bob", "Sales", "manager")
	f.dir.set("cid", "IT", "employee")
	f.dir.set("dan", "IT", "manager")
	// Managers of Sales only: both criteria must hold, as in the catalogue.
	f.video("v1", 10*24*time.Hour, false, true, []string{"manager"}, []string{"Sales"})
	f.video("v2", 10*24*time.Hour, true, false, nil, nil)

	t.Run("nothing while the video is not watchable", func(t *testing.T) {
		f.t = t
		f.expect(0)
	})
	t.Run("its audience is told once it is ready", func(t *testing.T) {
		f.t = t
		f.edit("v1", func(d *videoDoc) { d.Status, d.Current = StatusReady, &revision{ID: "j1"} })
		f.expect(time.Minute, "v1 assigned bob")
		f.expect(2 * time.Minute)
	})
	t.Run("everyone is told once it is published with an empty audience", func(t *testing.T) {
		f.t = t
		f.edit("v2", func(d *videoDoc) { d.Published = true })
		f.expect(3*time.Minute, "v2 assigned ann", "v2 assigned bob", "v2 assigned cid", "v2 assigned dan")
	})
	t.Run("widening the audience tells only the newly assigned", func(t *testing.T) {
		f.t = t
		f.edit("v1", func(d *videoDoc) { d.Departments = []string{"Sales", "IT"} })
		f.expect(4*time.Minute, "v1 assigned dan")
		f.dir.set("eve", "IT", "manager") // a new hire
		f.expect(5*time.Minute, "v1 assigned eve", "v2 assigned eve")
	})
	t.Run("unpublishing and publishing again tells nobody twice", func(t *testing.T) {
		f.t = t
		f.edit("v1", func(d *videoDoc) { d.Published = false })
		f.expect(6 * time.Minute)
		f.edit("v1", func(d *videoDoc) { d.Published = true })
		f.expect(7 * time.Minute)
	})
}

func TestRemindersFollowTheSchedule(t *testing.T) {
	f := newNoticeFixture(t)
	f.dir.set("ann", "Sales", "employee")
	f.dir.set("bob", "Sales", "employee")
	f.dir.set("cid", "Sales", "employee")
	due := 5 * 24 * time.Hour // Saturday 7 March, 09:00 UTC
	f.video("v1", due, true, true, nil, nil)
	f.expect(0, "v1 assigned ann", "v1 assigned bob", "v1 assigned cid")
	f.done.done["v1:cid"] = true // cid watched it at once

	for _, c := range []struct {
		name string
		at   time.Duration
		want []string
	}{
		{"nothing before the first step", due - 49*time.Hour, nil},
		{"two days before", due - 48*time.Hour, []string{"v1 before_48h ann", "v1 before_48h bob"}},
		{"each step once", due - 47*time.Hour, nil},
		{"on the due day", due - 8*time.Hour, []string{"v1 before_8h ann", "v1 before_8h bob"}},
		{"nothing at the due time itself", due, nil},
		{"nothing two days after", due + 48*time.Hour, nil},
		{"three days after, only who has still not watched it", due + 72*time.Hour, []string{"v1 after_72h bob"}},
		{"no step after the last", due + 30*24*time.Hour, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.t = t
			if c.name == "three days after, only who has still not watched it" {
				f.done.done["v1:ann"] = true
			}
			f.expect(c.at, c.want...)
		})
	}
}

func TestRemindersAreNotCaughtUpOrSentBeforeTheAssignment(t *testing.T) {
	f := newNoticeFixture(t)
	f.dir.set("ann", "Sales", "employee")
	// Published a day before it is due: the assignment says it all; no "two days before".
	f.video("v1", 24*time.Hour, true, true, nil, nil)
	f.expect(0, "v1 assigned ann")
	f.expect(time.Hour)
	// The worker was down from the due day's step to after the last: only the latest is sent.
	f.expect(24*time.Hour+80*time.Hour, "v1 after_72h ann")
	f.expect(24*time.Hour + 81*time.Hour)
}

func TestRemindersRespectQuietHours(t *testing.T) {
	f := newNoticeFixture(t)
	f.dir.set("ann", "Sales", "employee")
	f.dir.set("bob", "Sales", "employee")
	// ann's nights are quiet, 22:00-07:00 in Shanghai (14:00-23:00 UTC).
	if _, err := f.prefs.Set(t.Context(), &auth.Principal{UserID: "ann"},
		push.Prefs{QuietStart: "22:00", QuietEnd: "07:00", Timezone: "Asia/Shanghai"}); err != nil {
		t.Fatal(err)
	}
	f.video("late", 5*24*time.Hour+6*time.Hour, true, true, nil, nil)   // due Sat 15:00 UTC (23:00 Shanghai)
	f.video("early", 5*24*time.Hour+13*time.Hour, true, true, nil, nil) // due Sat 22:00 UTC (06:00 Shanghai)
	f.expect(0, "early assigned ann", "early assigned bob", "late assigned ann", "late assigned bob")

	t.Run("a step falling in the quiet hours waits for their end", func(t *testing.T) {
		f.t = t
		// Thu 15:00 UTC (23:00 in Shanghai): "late" is two days away.
		f.expect(3*24*time.Hour+6*time.Hour, "late before_48h bob")
		// 06:59 in Shanghai: "early" is two days away too.
		f.expect(3*24*time.Hour+13*time.Hour+59*time.Minute, "early before_48h bob")
		// 07:00: the quiet hours end.
		f.expect(3*24*time.Hour+14*time.Hour, "early before_48h ann", "late before_48h ann")
	})
	t.Run("a deadline before the quiet hours end is reminded in them, past the engine's delay", func(t *testing.T) {
		f.t = t
		// Sat 14:00 UTC (22:00 in Shanghai): both fall due before ann's quiet hours end at 07:00.
		f.expect(5*24*time.Hour+5*time.Hour, "early before_8h ann urgent", "early before_8h bob",
			"late before_8h ann urgent", "late before_8h bob")
		f.expect(5*24*time.Hour + 14*time.Hour)
	})
	t.Run("an overdue reminder waits for the end of the quiet hours", func(t *testing.T) {
		f.t = t
		// Tue 10 March 22:00 UTC (06:00 Wednesday in Shanghai): both are three days overdue.
		f.expect(8*24*time.Hour+13*time.Hour, "early after_72h bob", "late after_72h bob")
		f.expect(8*24*time.Hour+14*time.Hour, "early after_72h ann", "late after_72h ann")
	})
}

// TestTwoWorkersSendEachNoticeOnce runs two replicas' passes at the same moments, under -race:
// every assignment and reminder step reaches each user exactly once.
func TestTwoWorkersSendEachNoticeOnce(t *testing.T) {
	f := newNoticeFixture(t)
	for i := range 30 {
		f.dir.set(fmt.Sprintf("u%02d", i), "Sales", "employee")
	}
	f.video("v1", 5*24*time.Hour, true, true, nil, nil)
	workers := []*Notices{f.worker(), f.worker()}
	var all []string
	for _, d := range []time.Duration{0, 3 * 24 * time.Hour, 5*24*time.Hour - 8*time.Hour, 8 * 24 * time.Hour} {
		f.clock.Set(noticeStart.Add(d))
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() {
				if _, err := w.RunOnce(t.Context()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		all = append(all, f.sent.take()...)
	}
	seen := map[string]int{}
	for _, line := range all {
		seen[line]++
	}
	for _, step := range []string{"assigned", "before_48h", "before_8h", "after_72h"} {
		for i := range 30 {
			line := fmt.Sprintf("v1 %s u%02d", step, i)
			if seen[line] != 1 {
				t.Errorf("%q sent %d times, want once", line, seen[line])
			}
		}
	}
	if len(all) != 4*30 {
		t.Errorf("%d notices in all, want %d", len(all), 4*30)
	}
}

func TestStepsAreNamedByTheirOffset(t *testing.T) {
	got := StepsAt([]time.Duration{-48 * time.Hour, -90 * time.Minute, 0, 72 * time.Hour})
	want := []Step{{"before_48h", -48 * time.Hour}, {"before_90m", -90 * time.Minute}, {"due", 0}, {"after_72h", 72 * time.Hour}}
	if !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
}

// An instance that died between its claims and their push (kill -9 during a pass) left the
// users claimed, so no later pass told them: the next pass after pendingGrace sends what the
// claims still pending hold, under the keys the dead instance used, and once.
func TestNoticesADeadInstanceClaimedAreSentByTheNextPass(t *testing.T) {
	f := newNoticeFixture(t)
	f.dir.set("ann", "Sales", "employee")
	f.dir.set("bob", "Sales", "employee")
	f.video("v1", 5*24*time.Hour, true, true, nil, nil)
	now := noticeStart.Truncate(time.Millisecond)
	for _, c := range []noticeDoc{ // what the dead instance wrote before its Enqueue
		{ID: noticeID("v1", "ann", stepAssigned), VideoID: "v1", UserID: "ann", Step: stepAssigned, At: now, Pending: true},
		{ID: noticeID("v1", "bob", stepAssigned), VideoID: "v1", UserID: "bob", Step: stepAssigned, At: now, Pending: true},
	} {
		if _, err := f.svc.DB.Collection(noticesColl).InsertOne(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	f.expect(time.Minute) // the instance may still be at it
	f.clock.Set(noticeStart.Add(pendingGrace))
	if _, err := f.n.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The key the dead instance used: had it enqueued before dying, the engine sends it once.
	sum := sha256.Sum256([]byte("ann,bob"))
	f.sent.mu.Lock()
	ns := slices.Clone(f.sent.ns)
	f.sent.mu.Unlock()
	if want := "training:v1:assigned:" + hex.EncodeToString(sum[:12]); len(ns) != 1 || ns[0].Key != want {
		t.Fatalf("resent %+v, want one push keyed %s", ns, want)
	}
	if got := f.sent.take(); strings.Join(got, "|") != "v1 assigned ann|v1 assigned bob" {
		t.Fatalf("resent to %q", got)
	}
	f.expect(pendingGrace + time.Minute) // confirmed: not again
	f.dir.set("cid", "Sales", "employee")
	f.expect(pendingGrace+2*time.Minute, "v1 assigned cid")
	f.expect(pendingGrace + 10*time.Minute) // the normal path confirms its claims too
}
