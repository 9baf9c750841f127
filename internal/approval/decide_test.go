package approval_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/push"
)

func TestDecideExactlyOnce(t *testing.T) {
	f := newFixture(t)
	usage := &countingUsage{}
	f.svc.Usage = usage
	id := f.newTask(t, "i1", "t1", "E100")
	me := f.users["E100"]
	phone, tablet := *me, *me
	phone.DeviceID, tablet.DeviceID = "phone", "tablet"
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		wins    []*approval.DecisionView
		loserOf = map[string]*approval.DecisionView{}
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, in := &phone, approval.DecisionInput{Action: "approve", IdempotencyKey: fmt.Sprint("k", i)}
			if i%2 == 1 {
				p, in = &tablet, approval.DecisionInput{Action: "reject", Reason: "over budget", IdempotencyKey: fmt.Sprint("k", i)}
			}
			d, err := f.svc.Decide(f.ctx, p, id, in)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins = append(wins, d)
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.AlreadyDecided {
				t.Errorf("decision %d: %v", i, err)
				return
			}
			loserOf[in.IdempotencyKey] = e.Data.(map[string]any)["decision"].(*approval.DecisionView)
		}()
	}
	wg.Wait()
	if len(wins) != 1 || len(loserOf) != n-1 {
		t.Fatalf("%d decisions won, %d lost; want exactly one winner", len(wins), len(loserOf))
	}
	for k, d := range loserOf {
		if *d != *wins[0] {
			t.Fatalf("loser %s was told %+v, the winner is %+v", k, d, wins[0])
		}
	}
	det, err := f.svc.Get(f.ctx, me, id)
	if err != nil || det.Decision == nil || det.Decision.Action != wins[0].Action || det.Status == approval.StatePending {
		t.Fatalf("task after the race: %+v %v", det, err)
	}
	if got := usage.get(); len(got) != 1 || got[0] != me.UserID+" approval_decided "+wins[0].Action {
		t.Fatalf("usage events %q, want one approval_decided %s", got, wins[0].Action)
	}
}

// countingUsage records the usage events the service sends.
type countingUsage struct {
	mu     sync.Mutex
	events []string
}

func (c *countingUsage) Record(userID, _, name string, props map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, userID+" "+name+" "+props["action"])
}

func (c *countingUsage) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

func TestDecide(t *testing.T) {
	f := newFixture(t)
	me := f.users["E100"]
	t.Run("a retry with the same key gets the first answer; another key gets 409 with it", func(t *testing.T) {
		id := f.newTask(t, "i1", "t1", "E100")
		first, err := f.svc.Decide(f.ctx, me, id, approval.DecisionInput{Action: "approve", IdempotencyKey: "a"})
		if err != nil {
			t.Fatal(err)
		}
		again, err := f.svc.Decide(f.ctx, me, id, approval.DecisionInput{Action: "approve", IdempotencyKey: "a"})
		if err != nil || *again != *first {
			t.Fatalf("retry: %+v %v, want %+v", again, err, first)
		}
		_, err = f.svc.Decide(f.ctx, me, id, approval.DecisionInput{Action: "reject", Reason: "no", IdempotencyKey: "b"})
		e := wantCode(t, err, apperr.AlreadyDecided, "")
		if got := e.Data.(map[string]any)["decision"].(*approval.DecisionView); *got != *first {
			t.Fatalf("409 carries %+v", got)
		}
	})
	t.Run("checks the action, the reason and the key", func(t *testing.T) {
		id := f.newTask(t, "i2", "t2", "E100")
		_, err := f.svc.Decide(f.ctx, me, id, approval.DecisionInput{Action: "reject", IdempotencyKey: "k"})
		wantCode(t, err, apperr.Invalid, "reason")
		_, err = f.svc.Decide(f.ctx, me, id, approval.DecisionInput{Action: "forward", IdempotencyKey: "k"})
		wantCode(t, err, apperr.Invalid, "action")
		_, err = f.svc.Decide(f.ctx, me, id, approval.DecisionInput{Action: "approve"})
		wantCode(t, err, apperr.Invalid, "idempotency_key")
		_, err = f.svc.Decide(f.ctx, me, id, approval.DecisionInput{Action: "reject", Reason: strings.Repeat("x", 1001), IdempotencyKey: "k"})
		wantCode(t, err, apperr.Invalid, "reason")
	})
	for _, c := range []struct {
		name  string
		event func(iid, tid string) obj
	}{
		{"withdrawn by the applicant", func(iid, _ string) obj { return instanceEvent(instance(iid, 2, "CANCELED")) }},
		{"transferred on the OA side", func(iid, tid string) obj {
			return taskEvent(approval.EventTaskUpdated, instance(iid, 1, "PENDING"), task(tid, "E100", 2, "TRANSFERRED"))
		}},
		{"decided on the OA side", func(iid, tid string) obj {
			return taskEvent(approval.EventTaskUpdated, instance(iid, 1, "PENDING"), task(tid, "E100", 2, "APPROVED"))
		}},
		{"terminated by an administrator", func(iid, _ string) obj { return instanceEvent(instance(iid, 2, "TERMINATED")) }},
	} {
		t.Run("refuses a task "+c.name+" with task_closed", func(t *testing.T) {
			iid, tid := "i-"+strings.ReplaceAll(c.name, " ", "-"), "t-"+strings.ReplaceAll(c.name, " ", "-")
			id := f.newTask(t, iid, tid, "E100")
			f.oa().mustSend(t, c.event(iid, tid))
			_, err := f.svc.Decide(f.ctx, me, id, approval.DecisionInput{Action: "approve", IdempotencyKey: "x"})
			wantCode(t, err, apperr.TaskClosed, "")
			if silent := f.pusher.to(me.UserID, true); !hasTask(silent, id) {
				t.Fatalf("no silent withdrawal for %s: %+v", id, silent)
			}
		})
	}
}

func hasTask(ns []push.Notification, id string) bool {
	for _, n := range ns {
		if n.Data["task_id"] == id {
			return true
		}
	}
	return false
}

func TestAccess(t *testing.T) {
	f := newFixture(t)
	id := f.newTask(t, "i1", "t1", "E100")
	for _, who := range []string{"E200", "E300", "E900", "E901"} {
		t.Run(who+" neither sees nor decides E100's task", func(t *testing.T) {
			p := f.users[who]
			_, err := f.svc.Get(f.ctx, p, id)
			wantCode(t, err, apperr.NotFound, "")
			_, err = f.svc.Decide(f.ctx, p, id, approval.DecisionInput{Action: "approve", IdempotencyKey: "k"})
			wantCode(t, err, apperr.NotFound, "")
			list, _, err := f.svc.List(f.ctx, p, approval.ListFilter{})
			if err != nil || len(list) != 0 {
				t.Fatalf("list: %+v %v", list, err)
			}
		})
	}
	t.Run("an offline decision on someone else's task is rejected", func(t *testing.T) {
		res := f.pushDecision(t, f.users["E200"], obj{"id": "d1", "task_id": id, "action": "approve", "reason": "", "task_version": 1})
		if res.Accepted != 0 || len(res.Rejected) != 1 || res.Rejected[0].Code != apperr.NotFound {
			t.Fatalf("push: %+v", res)
		}
	})
}

func TestPushes(t *testing.T) {
	f := newFixture(t)
	me := f.users["E100"]
	id := f.newTask(t, "i1", "t1", "E100")
	visible := f.pusher.to(me.UserID, false)
	if len(visible) != 1 {
		t.Fatalf("pushes on arrival: %+v", visible)
	}
	n := visible[0]
	raw, _ := json.Marshal(n)
	for _, secret := range []string{"¥1,200", "client visit", "ctx-t1", "receipt.pdf", "files/1", f.secret} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("the push carries %q: %s", secret, raw)
		}
	}
	if n.Category != "approval" || n.Data["task_id"] != id || n.Data["reason_required"] != "reject" ||
		n.CollapseKey != "approval:"+id || !strings.Contains(n.Title["en"], "Taxi receipts i1") {
		t.Fatalf("push: %+v", n)
	}
	t.Run("a reassignment pushes the new approver and withdraws from the old", func(t *testing.T) {
		f.oa().mustSend(t, taskEvent(approval.EventTaskUpdated, instance("i1", 1, "PENDING"), task("t1", "E200", 2, "PENDING")))
		if got := f.pusher.to(f.users["E200"].UserID, false); len(got) != 1 || got[0].Data["task_id"] != id {
			t.Fatalf("new approver: %+v", got)
		}
		if !hasTask(f.pusher.to(me.UserID, true), id) {
			t.Fatal("no withdrawal for the old approver")
		}
	})
	t.Run("a decision withdraws the notification with a silent push", func(t *testing.T) {
		id2 := f.newTask(t, "i2", "t2", "E100")
		if _, err := f.svc.Decide(f.ctx, me, id2, approval.DecisionInput{Action: "approve", IdempotencyKey: "k"}); err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, n := range f.pusher.to(me.UserID, true) {
			if n.Data["task_id"] == id2 {
				found = n.CollapseKey == "approval:"+id2 && len(n.Title) == 0 && n.Data["approval_event"] == "withdraw"
			}
		}
		if !found {
			t.Fatalf("silent pushes: %+v", f.pusher.to(me.UserID, true))
		}
	})
}

func TestListOrderAndFilters(t *testing.T) {
	f := newFixture(t)
	me := f.users["E100"]
	var ids []string
	for i := range 5 {
		ev := taskEvent(approval.EventTaskCreated, instance(fmt.Sprint("i", i), 1, "PENDING"), task(fmt.Sprint("t", i), "E100", 1, "PENDING"))
		tk := ev["data"].(obj)["task"].(obj)
		tk["created_at"] = start.Add(-time.Duration(i) * time.Hour).Format(time.RFC3339)
		if i == 4 {
			ev["data"].(obj)["instance"].(obj)["flow_code"] = "leave"
		}
		f.oa().mustSend(t, ev)
		ids = append(ids, approval.Key(f.source, fmt.Sprint("t", i)))
	}
	// t0 is the newest; deciding it sends it after the pending ones.
	if _, err := f.svc.Decide(f.ctx, me, ids[0], approval.DecisionInput{Action: "approve", IdempotencyKey: "k"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor := ""
	for {
		page, next, err := f.svc.List(f.ctx, me, approval.ListFilter{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page {
			got = append(got, s.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := []string{ids[1], ids[2], ids[3], ids[4], ids[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	for _, c := range []struct {
		name string
		f    approval.ListFilter
		want int
	}{{"pending", approval.ListFilter{Status: "pending"}, 4}, {"done", approval.ListFilter{Status: "done"}, 1},
		{"flow", approval.ListFilter{Flow: "leave"}, 1}, {"source", approval.ListFilter{Source: "other"}, 0}} {
		list, _, err := f.svc.List(f.ctx, me, c.f)
		if err != nil || len(list) != c.want {
			t.Fatalf("%s: %d items, %v; want %d", c.name, len(list), err, c.want)
		}
	}
	t.Run("a reassigned task leaves the list, and a restarted service lists the same", func(t *testing.T) {
		f.oa().mustSend(t, taskEvent(approval.EventTaskUpdated, instance("i1", 1, "PENDING"), task("t1", "E100", 2, "PENDING")))
		f.oa().mustSend(t, taskEvent(approval.EventTaskUpdated, instance("i1", 1, "PENDING"), task("t1", "E200", 3, "PENDING")))
		listed := func(svc *approval.Service, p *auth.Principal) []string {
			list, _, err := svc.List(f.ctx, p, approval.ListFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range list {
				out = append(out, s.ID)
			}
			return out
		}
		mine := listed(f.svc, me)
		if fmt.Sprint(mine) != fmt.Sprint(want[1:]) {
			t.Fatalf("after the reassignment: %v, want %v", mine, want[1:])
		}
		restarted := &approval.Service{DB: f.svc.DB, Directory: f.svc.Directory, Push: f.pusher, Sync: f.sync, Now: f.clock.Now}
		if again := listed(restarted, me); fmt.Sprint(again) != fmt.Sprint(mine) {
			t.Fatalf("restarted: %v, want %v", again, mine)
		}
		if theirs := listed(restarted, f.users["E200"]); fmt.Sprint(theirs) != fmt.Sprint([]string{want[0]}) {
			t.Fatalf("E200 lists %v", theirs)
		}
	})
	_, _, err := f.svc.List(f.ctx, me, approval.ListFilter{Status: "open"})
	wantCode(t, err, apperr.Invalid, "status")
	_, _, err = f.svc.List(f.ctx, me, approval.ListFilter{Cursor: "!!"})
	wantCode(t, err, apperr.Invalid, "cursor")
}

// Two replicas on one database (a FerretDB they share, as in the fault rig, or MongoDB): each
// lists what the other wrote. The list once came from each process's memory on any FerretDB,
// which saw only that process's writes.
func TestListsOfReplicasSharingADatabase(t *testing.T) {
	f := newFixture(t)
	a := f.svc
	a.ListInMemory = false
	b := &approval.Service{DB: a.DB, Directory: a.Directory, Push: f.pusher, Sync: f.sync, Now: f.clock.Now}
	boss := f.users["E100"]
	list := func(s *approval.Service) map[string]string {
		t.Helper()
		items, _, err := s.List(f.ctx, boss, approval.ListFilter{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, it := range items {
			out[it.ID] = it.Status
		}
		return out
	}
	first := f.newTask(t, "i1", "t1", "E100") // applied by a
	if got := list(b); got[first] != "pending" {
		t.Fatalf("b lists %v, want %s pending", got, first)
	}
	if got := list(a); got[first] != "pending" {
		t.Fatalf("a lists %v, want %s pending", got, first)
	}
	if _, err := b.Decide(f.ctx, boss, first, approval.DecisionInput{Action: "approve", IdempotencyKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	second := f.newTask(t, "i2", "t2", "E100")
	got := list(a)
	if got[first] != "approved" || got[second] != "pending" {
		t.Fatalf("a lists %v after b's decision, want %s approved and %s pending", got, first, second)
	}
}
