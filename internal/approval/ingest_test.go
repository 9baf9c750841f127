package approval_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/approval"
)

func TestSignature(t *testing.T) {
	f := newFixture(t)
	body, _ := json.Marshal(taskEvent(approval.EventTaskCreated, instance("i1", 1, "PENDING"), task("t1", "E100", 1, "PENDING")))
	now := f.clock.Now()
	other, _ := approval.NewSecret()
	for _, c := range []struct {
		name  string
		h     approval.Headers
		field string
	}{
		{"refuses a signature made with another secret", signed("m1", now, body, other), "webhook-signature"},
		{"refuses a signature of another body", signed("m1", now, []byte("{}"), f.secret), "webhook-signature"},
		{"refuses a timestamp six minutes old", signed("m1", now.Add(-6*time.Minute), body, f.secret), "webhook-timestamp"},
		{"refuses a timestamp six minutes ahead", signed("m1", now.Add(6*time.Minute), body, f.secret), "webhook-timestamp"},
		{"refuses a missing webhook-id", approval.Headers{Timestamp: signed("m1", now, body, f.secret).Timestamp, Signature: signed("m1", now, body, f.secret).Signature}, "webhook-id"},
		{"refuses a missing signature", approval.Headers{ID: "m1", Timestamp: signed("m1", now, body, f.secret).Timestamp}, "webhook-signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.svc.Ingest(f.ctx, f.source, c.h, body)
			wantCode(t, err, apperr.Unauthorized, c.field)
		})
	}
	t.Run("accepts a timestamp four minutes old, and one valid signature among several", func(t *testing.T) {
		h := signed("m2", now.Add(-4*time.Minute), body, other, f.secret)
		res, err := f.svc.Ingest(f.ctx, f.source, h, body)
		if err != nil || res.Result != approval.ResultAccepted {
			t.Fatalf("res %+v, err %v", res, err)
		}
		if res, err := f.processed("m2"); err != nil || res.Result != approval.ResultApplied {
			t.Fatalf("processed: %+v, err %v", res, err)
		}
	})
	t.Run("acknowledges a replayed webhook-id without effect", func(t *testing.T) {
		pushes := len(f.pusher.to(f.users["E100"].UserID, false))
		// The same id with a newer version: had it been applied, the task would change.
		newer, _ := json.Marshal(taskEvent(approval.EventTaskUpdated, instance("i1", 2, "PENDING"), task("t1", "E200", 2, "PENDING")))
		res, err := f.svc.Ingest(f.ctx, f.source, signed("m2", now, newer, f.secret), newer)
		if err != nil || res.Result != approval.ResultDuplicate {
			t.Fatalf("res %+v, err %v", res, err)
		}
		if n, err := f.svc.ProcessEvents(f.ctx); err != nil || n != 0 {
			t.Fatalf("a replay left work: %d events processed, %v", n, err)
		}
		d, err := f.svc.Get(f.ctx, f.users["E100"], approval.Key(f.source, "t1"))
		if err != nil || d.Version != 1 {
			t.Fatalf("task after replay: %+v, %v", d, err)
		}
		if got := len(f.pusher.to(f.users["E100"].UserID, false)); got != pushes {
			t.Fatalf("a replay pushed again: %d pushes, want %d", got, pushes)
		}
	})
	t.Run("refuses an unknown source and a disabled integration, telling only a signed caller which", func(t *testing.T) {
		// An unknown source is refused as a wrong signature is: an unsigned caller learns nothing
		// of which sources exist, or which are disabled.
		_, wrong := f.svc.Ingest(f.ctx, f.source, signed("m3", now, body, other), body)
		wantCode(t, wrong, apperr.Unauthorized, "webhook-signature")
		_, err := f.svc.Ingest(f.ctx, "nope", signed("m3", now, body, f.secret), body)
		wantCode(t, err, apperr.Unauthorized, "webhook-signature")
		if err.Error() != wrong.Error() {
			t.Errorf("an unknown source is told %q, a wrong signature %q", err, wrong)
		}
		off := false
		if _, err := f.svc.UpdateIntegration(f.ctx, f.admin, f.source, approval.IntegrationUpdate{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Ingest(f.ctx, f.source, signed("m3", now, body, other), body)
		wantCode(t, err, apperr.Unauthorized, "webhook-signature")
		_, err = f.svc.Ingest(f.ctx, f.source, signed("m3", now, body, f.secret), body)
		wantCode(t, err, apperr.Forbidden, "")
	})
}

func TestRotation(t *testing.T) {
	f := newFixture(t)
	first := f.secret
	rot, err := f.svc.RotateSecret(f.ctx, f.admin, f.source)
	if err != nil {
		t.Fatal(err)
	}
	if len(rot.Integration.Secrets) != 2 || rot.Secret == first {
		t.Fatalf("rotation: %+v", rot.Integration.Secrets)
	}
	o := f.oa()
	for i, secret := range []string{first, rot.Secret} {
		o.secret = secret
		if got := o.mustSend(t, taskEvent(approval.EventTaskCreated, instance("i1", int64(i+1), "PENDING"), task("t1", "E100", int64(i+1), "PENDING"))); got != approval.ResultApplied {
			t.Fatalf("secret %d: %s", i, got)
		}
	}
	third, err := f.svc.RotateSecret(f.ctx, f.admin, f.source)
	if err != nil {
		t.Fatal(err)
	}
	o.secret = first
	_, err = o.send(instanceEvent(instance("i1", 9, "PENDING")))
	wantCode(t, err, apperr.Unauthorized, "webhook-signature")
	o.secret = third.Secret
	o.mustSend(t, instanceEvent(instance("i1", 9, "PENDING")))
	t.Run("only admins manage integrations", func(t *testing.T) {
		_, err := f.svc.RotateSecret(f.ctx, f.users["E900"], f.source)
		wantCode(t, err, apperr.Forbidden, "")
		_, err = f.svc.Integrations(f.ctx, f.users["E100"])
		wantCode(t, err, apperr.Forbidden, "")
	})
}

func TestVersionsInAnyOrder(t *testing.T) {
	orders := [][]int{{1, 2, 3}, {3, 2, 1}, {2, 3, 1}, {3, 1, 2}}
	for _, order := range orders {
		t.Run(fmt.Sprint("keeps the newest of versions arriving in order ", order), func(t *testing.T) {
			f := newFixture(t)
			o := f.oa()
			approvers := map[int]string{1: "E100", 2: "E200", 3: "E100"}
			for _, v := range order {
				inst := instance("i1", int64(v), "PENDING")
				inst["title"] = "title v" + string(rune('0'+v))
				o.mustSend(t, taskEvent(approval.EventTaskUpdated, inst, task("t1", approvers[v], int64(v), "PENDING")))
			}
			d, err := f.svc.Get(f.ctx, f.users["E100"], approval.Key(f.source, "t1"))
			if err != nil {
				t.Fatal(err)
			}
			if d.Version != 3 || d.Title != "title v3" || d.Status != approval.StatePending {
				t.Fatalf("task after %v: version %d title %q status %s", order, d.Version, d.Title, d.Status)
			}
			if _, err := f.svc.Get(f.ctx, f.users["E200"], d.ID); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("E200 still sees the task: %v", err)
			}
		})
	}
	t.Run("an older instance event never reopens a withdrawn request", func(t *testing.T) {
		f := newFixture(t)
		id := f.newTask(t, "i1", "t1", "E100")
		o := f.oa()
		if got := o.mustSend(t, instanceEvent(instance("i1", 5, "CANCELED"))); got != approval.ResultApplied {
			t.Fatal(got)
		}
		if got := o.mustSend(t, instanceEvent(instance("i1", 4, "PENDING"))); got != approval.ResultStale {
			t.Fatalf("older event: %s", got)
		}
		d, err := f.svc.Get(f.ctx, f.users["E100"], id)
		if err != nil || d.Status != approval.StateWithdrawn {
			t.Fatalf("status %+v %v", d, err)
		}
	})
}

func TestBadPayloads(t *testing.T) {
	f := newFixture(t)
	good := func() obj {
		return taskEvent(approval.EventTaskCreated, instance("i1", 1, "PENDING"), task("t1", "E100", 1, "PENDING"))
	}
	data := func(ev obj) obj { return ev["data"].(obj) }
	for _, c := range []struct {
		name, field string
		code        apperr.Code
		mutate      func(ev obj)
	}{
		{"an unknown type", "type", apperr.Invalid, func(ev obj) { ev["type"] = "approval.task.deleted" }},
		{"a task event without a task", "data.task", apperr.Invalid, func(ev obj) { delete(data(ev), "task") }},
		{"no instance", "data.instance", apperr.Invalid, func(ev obj) { delete(data(ev), "instance") }},
		{"an instance id with a slash", "data.instance.id", apperr.Invalid, func(ev obj) { data(ev)["instance"].(obj)["id"] = "a/b" }},
		{"a missing title", "data.instance.title", apperr.Invalid, func(ev obj) { delete(data(ev)["instance"].(obj), "title") }},
		{"an unknown instance status", "data.instance.status", apperr.Invalid, func(ev obj) { data(ev)["instance"].(obj)["status"] = "DONE" }},
		{"a summary line without label", "data.instance.summary[1].label", apperr.Invalid, func(ev obj) {
			data(ev)["instance"].(obj)["summary"] = []obj{{"label": "a", "value": "b"}, {"value": "c"}}
		}},
		{"a javascript deep link", "data.instance.deep_link", apperr.Invalid, func(ev obj) {
			data(ev)["instance"].(obj)["deep_link"] = "javascript://%0Aalert(1)"
		}},
		{"a zero version", "data.task.version", apperr.Invalid, func(ev obj) { data(ev)["task"].(obj)["version"] = 0 }},
		{"a version that is a string", "data.task.version", apperr.Invalid, func(ev obj) { data(ev)["task"].(obj)["version"] = "7" }},
		{"an unknown node mode", "data.task.node_mode", apperr.Invalid, func(ev obj) { data(ev)["task"].(obj)["node_mode"] = "ANY" }},
		// In the year 10000 in UTC: stored, it would fail every answer that shows the task.
		{"a due date JSON cannot write", "data.task.due_at", apperr.Invalid, func(ev obj) { data(ev)["task"].(obj)["due_at"] = "9999-12-31T23:30:00-01:00" }},
		{"an unknown action", "data.task.actions[0].action", apperr.Invalid, func(ev obj) {
			data(ev)["task"].(obj)["actions"] = []obj{{"action": "forward"}}
		}},
		{"an unknown field", "*", apperr.InvalidJSON, func(ev obj) { data(ev)["task"].(obj)["form"] = obj{"salary": 1} }},
		{"an approver the directory lacks", "data.task.approver_employee_no", apperr.UnknownApprovers, func(ev obj) {
			data(ev)["task"].(obj)["approver_employee_no"] = "E404"
		}},
	} {
		t.Run("refuses "+c.name+" and stores nothing", func(t *testing.T) {
			ev := good()
			c.mutate(ev)
			_, err := f.oa().sendAs("bad-1", ev)
			e := wantCode(t, err, c.code, c.field)
			if c.code == apperr.UnknownApprovers {
				if got, _ := json.Marshal(e.Data); string(got) != `{"employee_nos":["E404"]}` {
					t.Fatalf("data = %s", got)
				}
			}
			list, _, err := f.svc.List(f.ctx, f.users["E100"], approval.ListFilter{})
			if err != nil || len(list) != 0 {
				t.Fatalf("something was stored: %+v %v", list, err)
			}
		})
	}
	t.Run("the same webhook-id is accepted once the payload is fixed", func(t *testing.T) {
		res, err := f.oa().sendAs("bad-1", good())
		if err != nil || res.Result != approval.ResultApplied {
			t.Fatalf("%+v %v", res, err)
		}
	})
}
