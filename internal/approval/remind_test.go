package approval

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
)

// sentNotifications records what the reminders enqueue.
type sentNotifications struct {
	mu sync.Mutex
	ns []push.Notification
}

func (s *sentNotifications) Enqueue(_ context.Context, n push.Notification) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ns = append(s.ns, n)
	return n.Key, true, nil
}

// take returns and forgets the keys enqueued so far, sorted.
func (s *sentNotifications) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for _, n := range s.ns {
		keys = append(keys, n.Key)
	}
	s.ns = nil
	slices.Sort(keys)
	return keys
}

func (s *sentNotifications) audience(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.ns {
		if n.Key == key {
			return n.Audience.UserIDs
		}
	}
	return nil
}

// employees is a directory of employee number -> user id.
type employees map[string]string

func (e employees) ActiveUsersByEmployeeNo(_ context.Context, nos []string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range nos {
		if id, ok := e[n]; ok {
			out[n] = id
		}
	}
	return out, nil
}

type reminderFixture struct {
	t     *testing.T
	clock *testenv.Clock
	sent  *sentNotifications
	r     *Reminders
	prefs *push.PrefsStore
}

// remindStart is 09:00 on a Monday in Shanghai.
var remindStart = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

func newReminderFixture(t *testing.T) *reminderFixture {
	db := testenv.Mongo(t)
	f := &reminderFixture{t: t, clock: testenv.NewClock(remindStart), sent: &sentNotifications{}, prefs: &push.PrefsStore{DB: db}}
	f.r = f.worker()
	return f
}

// worker is one replica's reminder worker.
func (f *reminderFixture) worker() *Reminders {
	return &Reminders{DB: f.prefs.DB, Push: f.sent, Prefs: f.prefs, Now: f.clock.Now,
		Directory: employees{"M1": "u-M1", "M2": "u-M2", "OPS1": "u-OPS1"},
		Zone:      func(context.Context, string) (string, error) { return "Asia/Shanghai", nil }}
}

func (f *reminderFixture) policy(p ReminderPolicy) {
	f.t.Helper()
	if _, err := f.r.SetReminderPolicy(f.t.Context(), opsPrincipal, p); err != nil {
		f.t.Fatal(err)
	}
}

// task seeds an open task of flow for approver, created now, due after due (0: none).
func (f *reminderFixture) task(id, flow, approver string, due time.Duration) {
	f.t.Helper()
	now := f.clock.Now()
	t := Task{ID: Key("oa1", id), Source: "oa1", TaskID: id, FlowCode: flow, Title: "Trip " + id, NodeID: "mgr",
		ApproverEmployeeNo: approver, ApproverUserID: "u-" + approver, Status: StatusPending, InstanceStatus: StatusPending,
		CreatedAt: now, ReceivedAt: now, UpdatedAt: now, Open: true}
	if due > 0 {
		at := now.Add(due)
		t.DueAt = &at
	}
	if _, err := f.r.DB.Collection(tasksColl).InsertOne(f.t.Context(), t); err != nil {
		f.t.Fatal(err)
	}
}

// at runs one pass at start+d and returns what it enqueued.
func (f *reminderFixture) at(d time.Duration) []string {
	f.t.Helper()
	f.clock.Set(remindStart.Add(d))
	if _, err := f.r.RunOnce(f.t.Context()); err != nil {
		f.t.Fatal(err)
	}
	return f.sent.take()
}

func (f *reminderFixture) expect(d time.Duration, want ...string) {
	f.t.Helper()
	got := f.at(d)
	if !slices.Equal(got, want) {
		f.t.Errorf("at +%v: sent %q, want %q", d, got, want)
	}
}

func TestRemindersEveryXHoursAtMostN(t *testing.T) {
	f := newReminderFixture(t)
	f.policy(ReminderPolicy{FlowCode: "EXP", RemindAfterHours: 4, MaxReminders: 3})
	f.task("t1", "EXP", "M1", 0)
	f.task("t2", "OTHER", "M2", 0) // no policy: never reminded
	f.expect(4*time.Hour - time.Minute)
	f.expect(4*time.Hour, "approval-reminder:oa1:t1:1")
	f.expect(5 * time.Hour)
	f.expect(8*time.Hour, "approval-reminder:oa1:t1:2")
	f.expect(12*time.Hour, "approval-reminder:oa1:t1:3")
	f.expect(16 * time.Hour)
	f.expect(100 * time.Hour)
}

func TestRemindersBeforeDue(t *testing.T) {
	f := newReminderFixture(t)
	f.policy(ReminderPolicy{FlowCode: "EXP", BeforeDueHours: 2, MaxReminders: 2})
	f.task("t1", "EXP", "M1", 6*time.Hour)
	f.task("t2", "EXP", "M2", 0) // no due date: nothing before it
	f.expect(4*time.Hour - time.Second)
	f.expect(4*time.Hour, "approval-reminder:oa1:t1:1")
	f.expect(7 * time.Hour)
}

func TestRemindersWaitOutQuietHoursUnlessDueWithin(t *testing.T) {
	f := newReminderFixture(t)
	for _, u := range []string{"u-M1", "u-M2"} {
		if _, err := f.prefs.Set(t.Context(), &auth.Principal{UserID: u}, push.Prefs{QuietStart: "22:00", QuietEnd: "07:00"}); err != nil {
			t.Fatal(err)
		}
	}
	f.policy(ReminderPolicy{FlowCode: "EXP", RemindAfterHours: 14, BeforeDueHours: 1, MaxReminders: 3})
	f.task("t1", "EXP", "M1", 0)                           // first reminder due 23:00 Shanghai, in M1's quiet hours
	f.task("t2", "EXP", "M2", 15*time.Hour+30*time.Minute) // due 00:30: within the quiet hours
	// 23:00 local: t1 waits; t2's reminder (14 h) goes out, as t2 falls due before 07:00.
	f.expect(14*time.Hour, "approval-reminder:oa1:t2:1")
	f.expect(14*time.Hour+30*time.Minute, "approval-reminder:oa1:t2:2") // 1 h before due, still quiet
	f.expect(20 * time.Hour)                                            // 05:00 local: t1 still waits
	f.expect(22*time.Hour, "approval-reminder:oa1:t1:1")
}

func TestDailyDigestForApproversWithSeveralTasks(t *testing.T) {
	f := newReminderFixture(t)
	f.clock.Set(remindStart.Add(-2 * time.Hour)) // 07:00 local
	f.task("t1", "EXP", "M1", 0)
	f.task("t2", "LEAVE", "M1", 0)
	f.task("t3", "EXP", "M2", 0) // one task only: no digest
	f.expect(-time.Hour)         // 08:00 local: too early
	f.expect(0, "approval-digest:M1:2026-03-02")
	f.expect(5 * time.Hour)
	f.expect(23 * time.Hour) // 08:00 the next day
	f.expect(24*time.Hour, "approval-digest:M1:2026-03-03")
}

func TestEscalationAfterZHoursOnce(t *testing.T) {
	f := newReminderFixture(t)
	f.policy(ReminderPolicy{FlowCode: "EXP", EscalateAfterHours: 24, EscalateTo: []string{"OPS1", "NOBODY"}})
	f.task("t1", "EXP", "M1", 0)
	f.expect(24*time.Hour - time.Minute)
	f.clock.Set(remindStart.Add(24 * time.Hour))
	if _, err := f.r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := f.sent.audience("approval-escalation:oa1:t1"); !slices.Equal(got, []string{"u-OPS1"}) {
		t.Errorf("escalated to %v", got)
	}
	f.sent.take()
	f.expect(48 * time.Hour)
}

func TestRemindersOnceAcrossTwoWorkers(t *testing.T) {
	f := newReminderFixture(t)
	f.policy(ReminderPolicy{FlowCode: "EXP", RemindAfterHours: 1, MaxReminders: 5, EscalateAfterHours: 3, EscalateTo: []string{"OPS1"}})
	for i := range 10 {
		f.task(fmt.Sprintf("t%02d", i), "EXP", []string{"M1", "M2"}[i%2], 0)
	}
	for _, h := range []int{1, 2, 3} {
		f.clock.Set(remindStart.Add(time.Duration(h) * time.Hour))
		var wg sync.WaitGroup
		for range 2 {
			w := f.worker()
			wg.Go(func() {
				if _, err := w.RunOnce(t.Context()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	keys := f.sent.take()
	if len(keys) != 10*3+10+2 || len(slices.Compact(slices.Clone(keys))) != len(keys) {
		t.Errorf("%d notifications (want 30 reminders, 10 escalations, 2 digests, each once): %v", len(keys), keys)
	}
}

func TestReminderPoliciesAreForOps(t *testing.T) {
	f := newReminderFixture(t)
	if _, err := f.r.SetReminderPolicy(t.Context(), employee, ReminderPolicy{FlowCode: "EXP", MaxReminders: 1}); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("employee sets a policy: %v", err)
	}
	for _, c := range []struct {
		p     ReminderPolicy
		field string
	}{
		{ReminderPolicy{FlowCode: "EXP", MaxReminders: 21}, "max_reminders"},
		{ReminderPolicy{FlowCode: "EXP", RemindAfterHours: -1}, "remind_after_hours"},
		{ReminderPolicy{FlowCode: "EXP", EscalateAfterHours: 5}, "escalate_to"},
		{ReminderPolicy{FlowCode: "$x"}, "flow_code"},
	} {
		_, err := f.r.SetReminderPolicy(t.Context(), opsPrincipal, c.p)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != c.field {
			t.Errorf("%+v: %v, want invalid %s", c.p, err, c.field)
		}
	}
	f.policy(ReminderPolicy{FlowCode: "EXP", MaxReminders: 2, RemindAfterHours: 1})
	ps, err := f.r.ReminderPolicies(t.Context(), opsPrincipal)
	if err != nil || len(ps) != 1 || ps[0].MaxReminders != 2 || ps[0].UpdatedBy != "ops" {
		t.Errorf("policies: %+v %v", ps, err)
	}
	if err := f.r.DeleteReminderPolicy(t.Context(), opsPrincipal, "EXP"); err != nil {
		t.Error(err)
	}
	if err := f.r.DeleteReminderPolicy(t.Context(), opsPrincipal, "EXP"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("second delete: %v", err)
	}
}

// BenchmarkRemindersPass is one reminder pass on the embedded FerretDB over a history of closed
// tasks with a few open ones: what every instance pays each minute.
func BenchmarkRemindersPass(b *testing.B) {
	db := testenv.Mongo(b)
	r := &Reminders{DB: db, Push: &sentNotifications{}, Prefs: &push.PrefsStore{DB: db}, Now: func() time.Time { return remindStart }}
	if _, err := r.SetReminderPolicy(b.Context(), opsPrincipal, ReminderPolicy{FlowCode: "EXP", RemindAfterHours: 4, MaxReminders: 3}); err != nil {
		b.Fatal(err)
	}
	var docs []any
	for i := range 10000 {
		at := remindStart.Add(-time.Duration(i) * time.Minute)
		docs = append(docs, Task{ID: Key("oa1", fmt.Sprintf("t%05d", i)), Source: "oa1", TaskID: fmt.Sprintf("t%05d", i),
			FlowCode: "EXP", Title: "Trip", ApproverEmployeeNo: fmt.Sprintf("M%d", i%50), ApproverUserID: fmt.Sprintf("u-M%d", i%50),
			Status: StatusPending, CreatedAt: at, ReceivedAt: at, UpdatedAt: at, Open: i%100 == 0})
	}
	if _, err := db.Collection(tasksColl).InsertMany(b.Context(), docs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := r.RunOnce(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// A claim whose enqueue never happened (its replica was killed between the two) is taken over
// by a pass that finds the reminder still due once the claim has been pending for claimGrace;
// a claim confirmed, or made before claims were marked pending, is not.
func TestAReminderClaimedButNeverEnqueuedIsTakenOver(t *testing.T) {
	f := newReminderFixture(t)
	f.policy(ReminderPolicy{FlowCode: "EXP", RemindAfterHours: 1, MaxReminders: 3})
	f.task("t1", "EXP", "M1", 0)
	f.task("t2", "EXP", "M2", 0)
	// At +1h a replica claimed both first reminders and died before enqueueing them; t2's claim
	// is an old one, without the pending mark.
	claimedAt := remindStart.Add(time.Hour)
	for _, d := range []reminderDoc{
		{ID: reminderID(Key("oa1", "t1"), 1), Kind: "reminder", TaskID: Key("oa1", "t1"), EmployeeNo: "M1", N: 1, At: claimedAt, Pending: true},
		{ID: reminderID(Key("oa1", "t2"), 1), Kind: "reminder", TaskID: Key("oa1", "t2"), EmployeeNo: "M2", N: 1, At: claimedAt},
	} {
		if _, err := f.r.DB.Collection(remindersColl).InsertOne(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	f.expect(time.Hour + claimGrace/2) // the claiming replica may still be at it
	f.expect(time.Hour+claimGrace, "approval-reminder:oa1:t1:1")
	f.expect(time.Hour + 2*claimGrace) // confirmed: once
	f.expect(2*time.Hour, "approval-reminder:oa1:t1:2", "approval-reminder:oa1:t2:2")
	f.expect(2*time.Hour + claimGrace)
}
