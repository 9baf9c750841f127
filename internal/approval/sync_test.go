package approval_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	datasync "github.com/mportal/mportal/sync"
)

// pushDecision pushes one offline decision record through the sync engine.
func (f *fixture) pushDecision(t *testing.T, p *auth.Principal, rec obj) *datasync.PushResult {
	t.Helper()
	body, _ := json.Marshal(obj{"changes": obj{approval.DecisionsSyncTableName: obj{"created": []obj{rec}}}})
	res, err := f.sync.Push(f.ctx, p, 0, body)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSyncTables(t *testing.T) {
	f := newFixture(t)
	me := f.users["E100"]
	id := f.newTask(t, "i1", "t1", "E100")
	live, _, ts := f.pull(t, me, 0)
	if len(live) != 1 || live[0].ID != id || live[0].Status != "pending" || live[0].Version != 1 ||
		live[0].Summary != `[{"label":"Amount","value":"¥1,200"},{"label":"Purpose","value":"client visit"}]` {
		t.Fatalf("first pull: %+v", live)
	}
	t.Run("an offline decision is applied when pushed", func(t *testing.T) {
		res := f.pushDecision(t, me, obj{"id": "dec-1", "task_id": id, "action": "approve", "reason": "", "task_version": 1})
		if res.Accepted != 1 || len(res.Rejected) != 0 {
			t.Fatalf("push: %+v", res)
		}
		// The same push again (the answer was lost) changes nothing and is accepted again.
		if res := f.pushDecision(t, me, obj{"id": "dec-1", "task_id": id, "action": "approve", "reason": "", "task_version": 1}); res.Accepted != 1 {
			t.Fatalf("replayed push: %+v", res)
		}
		live, _, _ := f.pull(t, me, ts)
		if len(live) != 1 || live[0].Status != "approved" || live[0].DecidedAt == nil {
			t.Fatalf("pull after the decision: %+v", live)
		}
	})
	t.Run("an offline decision on a withdrawn task is rejected with the reason", func(t *testing.T) {
		id2 := f.newTask(t, "i2", "t2", "E100")
		f.oa().mustSend(t, instanceEvent(instance("i2", 2, "CANCELED")))
		res := f.pushDecision(t, me, obj{"id": "dec-2", "task_id": id2, "action": "approve", "reason": "", "task_version": 1})
		if res.Accepted != 0 || len(res.Rejected) != 1 || res.Rejected[0].Code != apperr.Conflict {
			t.Fatalf("push: %+v", res)
		}
		rejects, err := f.sync.Rejects(f.ctx, me)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(rejects, func(r datasync.Reject) bool {
			return r.RecordID == "dec-2" && r.Table == approval.DecisionsSyncTableName && r.Field == "task_id" &&
				r.Detail == "this task can no longer be decided: the request was withdrawn by the applicant"
		}) {
			t.Fatalf("rejects: %+v", rejects)
		}
	})
	t.Run("an offline decision on a task that changed since the sync is rejected", func(t *testing.T) {
		id3 := f.newTask(t, "i3", "t3", "E100")
		f.oa().mustSend(t, taskEvent(approval.EventTaskUpdated, instance("i3", 1, "PENDING"), task("t3", "E100", 2, "PENDING")))
		res := f.pushDecision(t, me, obj{"id": "dec-3", "task_id": id3, "action": "approve", "reason": "", "task_version": 1})
		if len(res.Rejected) != 1 || res.Rejected[0].Code != apperr.Conflict {
			t.Fatalf("push: %+v", res)
		}
	})
	t.Run("the approvals table is read-only", func(t *testing.T) {
		body, _ := json.Marshal(obj{"changes": obj{approval.SyncTableName: obj{"updated": []obj{{"id": id, "status": "approved"}}}}})
		res, err := f.sync.Push(f.ctx, me, 0, body)
		if err != nil || len(res.Rejected) != 1 || res.Rejected[0].Code != apperr.Forbidden {
			t.Fatalf("push: %+v %v", res, err)
		}
	})
	t.Run("a reassigned task is deleted from the former approver's phone", func(t *testing.T) {
		id4 := f.newTask(t, "i4", "t4", "E100")
		_, _, before := f.pull(t, me, 0)
		f.oa().mustSend(t, taskEvent(approval.EventTaskUpdated, instance("i4", 1, "PENDING"), task("t4", "E200", 2, "PENDING")))
		_, deleted, _ := f.pull(t, me, before)
		if !slices.Contains(deleted, id4) {
			t.Fatalf("deleted: %v", deleted)
		}
		live, _, _ := f.pull(t, f.users["E200"], 0)
		if len(live) != 1 || live[0].ID != id4 {
			t.Fatalf("new approver's pull: %+v", live)
		}
	})
}

func TestDelegation(t *testing.T) {
	f := newFixture(t)
	boss, deputy := f.users["E100"], f.users["E200"]
	from, to := start.Add(time.Hour), start.Add(49*time.Hour)
	if _, err := f.svc.SetDelegation(f.ctx, boss, approval.DelegationInput{Delegate: "E200", From: from, To: to}); err != nil {
		t.Fatal(err)
	}
	t.Run("a task before the range stays with the approver", func(t *testing.T) {
		id := f.newTask(t, "i1", "t1", "E100")
		if _, err := f.svc.Get(f.ctx, boss, id); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a task in the range goes to the delegate, marked", func(t *testing.T) {
		f.clock.Set(from.Add(time.Minute))
		id := f.newTask(t, "i2", "t2", "E100")
		d, err := f.svc.Get(f.ctx, deputy, id)
		if err != nil || d.DelegatedFromEmployeeNo == nil || *d.DelegatedFromEmployeeNo != "E100" {
			t.Fatalf("delegate's view: %+v %v", d, err)
		}
		if _, err := f.svc.Get(f.ctx, boss, id); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("the delegating approver still holds it: %v", err)
		}
		if _, err := f.svc.Decide(f.ctx, deputy, id, approval.DecisionInput{Action: "approve", IdempotencyKey: "k"}); err != nil {
			t.Fatal(err)
		}
		if got := f.pusher.to(deputy.UserID, false); len(got) != 1 || got[0].Data["task_id"] != id {
			t.Fatalf("delegate's pushes: %+v", got)
		}
	})
	t.Run("a task in the range stays with the approver when the delegate was disabled", func(t *testing.T) {
		// Before, a delegate who left received the tasks for the rest of the term, unseen.
		disabled := directory.StatusDisabled
		if _, err := f.dir.Update(f.ctx, f.users["E901"], deputy.UserID, directory.UserUpdate{Status: &disabled}); err != nil {
			t.Fatal(err)
		}
		id := f.newTask(t, "i2b", "t2b", "E100")
		if _, err := f.svc.Get(f.ctx, boss, id); err != nil {
			t.Fatalf("the approver does not hold it: %v", err)
		}
		active := directory.StatusActive
		if _, err := f.dir.Update(f.ctx, f.users["E901"], deputy.UserID, directory.UserUpdate{Status: &active}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a task after the range stays with the approver", func(t *testing.T) {
		f.clock.Set(to)
		id := f.newTask(t, "i3", "t3", "E100")
		if _, err := f.svc.Get(f.ctx, boss, id); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuses bad delegations", func(t *testing.T) {
		now := f.clock.Now()
		_, err := f.svc.SetDelegation(f.ctx, boss, approval.DelegationInput{Delegate: "E100", From: now, To: now.Add(time.Hour)})
		wantCode(t, err, apperr.Invalid, "delegate")
		_, err = f.svc.SetDelegation(f.ctx, boss, approval.DelegationInput{Delegate: "E404", From: now, To: now.Add(time.Hour)})
		wantCode(t, err, apperr.Invalid, "delegate")
		_, err = f.svc.SetDelegation(f.ctx, boss, approval.DelegationInput{Delegate: "E200", From: now, To: now})
		wantCode(t, err, apperr.Invalid, "to")
		_, err = f.svc.SetDelegation(f.ctx, boss, approval.DelegationInput{Delegate: "E200", From: now, To: now.Add(100 * 24 * time.Hour)})
		wantCode(t, err, apperr.Invalid, "to")
		// 10000-01-01T00:30Z: stored, it would fail every answer that shows the delegation.
		late := time.Date(9999, 12, 31, 23, 30, 0, 0, time.FixedZone("", -3600))
		_, err = f.svc.SetDelegation(f.ctx, boss, approval.DelegationInput{Delegate: "E200", From: late.Add(-time.Hour), To: late})
		wantCode(t, err, apperr.Invalid, "to")
	})
	t.Run("deleting the delegation ends it", func(t *testing.T) {
		if err := f.svc.DeleteDelegation(f.ctx, boss); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Delegation(f.ctx, boss)
		wantCode(t, err, apperr.NotFound, "")
	})
}
