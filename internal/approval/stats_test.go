package approval

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// seededTask is one task of the seeded history.
type seededTask struct {
	flow, node, approver, status, via string
	created                           time.Time
	decideAfter                       time.Duration // 0: not decided
	due                               time.Duration // after created; 0: none
}

func seedTasks(t *testing.T, s *Statistics, tasks []seededTask) {
	t.Helper()
	var docs, decisions []any
	for i, st := range tasks {
		pushed := st.created.Add(10 * time.Minute)
		task := Task{ID: Key("oa1", fmt.Sprintf("t%03d", i)), Source: "oa1", TaskID: fmt.Sprintf("t%03d", i),
			FlowCode: st.flow, FlowName: map[string]string{"EXP": "Expenses", "LEAVE": "Leave"}[st.flow],
			NodeID: st.node, NodeName: strings.ToUpper(st.node), NodeMode: ModeOr, ApproverEmployeeNo: st.approver,
			ApproverUserID: "u-" + st.approver, Status: st.status, InstanceStatus: StatusPending,
			CreatedAt: st.created, ReceivedAt: st.created, UpdatedAt: st.created, PushedAt: &pushed,
			Open: st.status == StatusPending}
		if st.due > 0 {
			due := st.created.Add(st.due)
			task.DueAt = &due
		}
		if st.decideAfter > 0 {
			at := st.created.Add(st.decideAfter)
			task.DecidedAt = &at
			task.DecidedAction = map[string]string{StatusApproved: ActionApprove, StatusRejected: ActionReject}[st.status]
			task.Status = StatusPending // decided in mportal: the OA has not confirmed yet
			decisions = append(decisions, Decision{ID: task.ID, Source: "oa1", TaskID: task.TaskID, FlowCode: st.flow,
				NodeID: st.node, Action: task.DecidedAction, ByEmployeeNo: st.approver, Via: st.via, DecidedAt: at,
				TaskCreatedAt: st.created, PushedAt: &pushed, Callback: Callback{State: CallbackNone}})
		}
		docs = append(docs, task)
	}
	if _, err := s.DB.Collection(tasksColl).InsertMany(t.Context(), docs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Collection(decisionsColl).InsertMany(t.Context(), decisions); err != nil {
		t.Fatal(err)
	}
}

func TestStatisticsOnASeededHistory(t *testing.T) {
	now := time.Date(2026, 4, 10, 12, 0, 0, 0, time.UTC)
	s := &Statistics{DB: testenv.Mongo(t), Now: testenv.NewClock(now).Now}
	day := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	h := time.Hour
	seedTasks(t, s, []seededTask{
		// EXP/mgr: 4 approved, 2 rejected, decided after 1..6 h; 4 from the phone.
		{"EXP", "mgr", "M1", "APPROVED", "mobile", day, 1 * h, 0},
		{"EXP", "mgr", "M1", "APPROVED", "mobile", day, 2 * h, 0},
		{"EXP", "mgr", "M1", "APPROVED", "oa", day, 3 * h, 0},
		{"EXP", "mgr", "M1", "APPROVED", "mobile", day, 4 * h, 0},
		{"EXP", "mgr", "M1", "REJECTED", "oa", day, 5 * h, 0},
		{"EXP", "mgr", "M1", "REJECTED", "mobile", day, 6 * h, 0},
		// EXP/fin: 2 approved, 3 rejected, after 10..50 h; one past its 24 h due date.
		{"EXP", "fin", "F1", "APPROVED", "mobile", day, 10 * h, 0},
		{"EXP", "fin", "F1", "APPROVED", "mobile", day, 20 * h, 0},
		{"EXP", "fin", "F1", "REJECTED", "mobile", day, 30 * h, 24 * h},
		{"EXP", "fin", "F1", "REJECTED", "oa", day, 40 * h, 0},
		{"EXP", "fin", "F1", "REJECTED", "mobile", day, 50 * h, 0},
		// LEAVE/hr: 2 rejections (too few to rank), one pending past due, one withdrawn.
		{"LEAVE", "hr", "M1", "REJECTED", "mobile", day, 1 * h, 0},
		{"LEAVE", "hr", "M1", "REJECTED", "mobile", day, 3 * h, 0},
		{"LEAVE", "hr", "M1", "PENDING", "", day, 0, 48 * h},
		{"LEAVE", "hr", "H2", "CANCELED", "", day, 0, 0},
		// Outside the range: not counted, except M1's pending task in pending_now.
		{"EXP", "mgr", "M1", "PENDING", "", day.AddDate(0, -1, 0), 0, 0},
		{"EXP", "mgr", "M1", "REJECTED", "mobile", day.AddDate(0, 1, 0), 99 * h, 0},
	})
	from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	st, err := s.Stats(t.Context(), opsPrincipal, from, to)
	if err != nil {
		t.Fatal(err)
	}
	secs := func(d time.Duration) *float64 { v := d.Seconds(); return &v }
	eq := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	node := func(flow, id string) Metrics {
		for _, n := range st.Nodes {
			if n.FlowCode == flow && n.NodeID == id {
				return n.Metrics
			}
		}
		t.Fatalf("no node %s/%s in %+v", flow, id, st.Nodes)
		return Metrics{}
	}
	for _, c := range []struct {
		name string
		got  Metrics
		want Metrics
	}{
		{"EXP/mgr", node("EXP", "mgr"), Metrics{Tasks: 6, Approved: 4, Rejected: 2, ApproveRate: 0.6667, RejectRate: 0.3333,
			MedianDecideSeconds: secs(3 * h), P90DecideSeconds: secs(6 * h),
			MedianPushToDecideSec: secs(3*h - 10*time.Minute), P90PushToDecideSec: secs(6*h - 10*time.Minute), ViaMobile: 4, ViaOA: 2}},
		{"EXP/fin", node("EXP", "fin"), Metrics{Tasks: 5, Approved: 2, Rejected: 3, ApproveRate: 0.4, RejectRate: 0.6,
			MedianDecideSeconds: secs(30 * h), P90DecideSeconds: secs(50 * h),
			MedianPushToDecideSec: secs(30*h - 10*time.Minute), P90PushToDecideSec: secs(50*h - 10*time.Minute), ViaMobile: 4, ViaOA: 1, Overdue: 1}},
		{"LEAVE/hr", node("LEAVE", "hr"), Metrics{Tasks: 4, Pending: 1, Rejected: 2, RejectRate: 1,
			MedianDecideSeconds: secs(1 * h), P90DecideSeconds: secs(3 * h),
			MedianPushToDecideSec: secs(1*h - 10*time.Minute), P90PushToDecideSec: secs(3*h - 10*time.Minute), ViaMobile: 2, Overdue: 1}},
		{"flow EXP", st.Flows[0].Metrics, Metrics{Tasks: 11, Approved: 6, Rejected: 5, ApproveRate: 0.5455, RejectRate: 0.4545,
			MedianDecideSeconds: secs(6 * h), P90DecideSeconds: secs(40 * h),
			MedianPushToDecideSec: secs(6*h - 10*time.Minute), P90PushToDecideSec: secs(40*h - 10*time.Minute), ViaMobile: 8, ViaOA: 3, Overdue: 1}},
	} {
		g, w := c.got, c.want
		if !eq(g.MedianDecideSeconds, w.MedianDecideSeconds) || !eq(g.P90DecideSeconds, w.P90DecideSeconds) ||
			!eq(g.MedianPushToDecideSec, w.MedianPushToDecideSec) || !eq(g.P90PushToDecideSec, w.P90PushToDecideSec) {
			t.Errorf("%s durations: %v %v %v %v", c.name, *g.MedianDecideSeconds, *g.P90DecideSeconds, *g.MedianPushToDecideSec, *g.P90PushToDecideSec)
		}
		g.MedianDecideSeconds, g.P90DecideSeconds, g.MedianPushToDecideSec, g.P90PushToDecideSec = nil, nil, nil, nil
		w.MedianDecideSeconds, w.P90DecideSeconds, w.MedianPushToDecideSec, w.P90PushToDecideSec = nil, nil, nil, nil
		if g != w {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, g, w)
		}
	}
	if st.Total.Tasks != 15 || len(st.Flows) != 2 || len(st.Nodes) != 3 {
		t.Errorf("total %d tasks, %d flows, %d nodes", st.Total.Tasks, len(st.Flows), len(st.Nodes))
	}
	t.Run("answers which step rejects most and which is slowest", func(t *testing.T) {
		if r := st.HighestRejectRate; r == nil || r.FlowCode != "EXP" || r.NodeID != "fin" || r.Value != 0.6 {
			t.Errorf("highest reject rate: %+v (LEAVE/hr's 2 of 2 are too few to rank)", r)
		}
		if r := st.Slowest; r == nil || r.FlowCode != "EXP" || r.NodeID != "fin" || r.Value != (30*h).Seconds() {
			t.Errorf("slowest: %+v", r)
		}
	})
	t.Run("per approver: pending now and median time", func(t *testing.T) {
		want := []ApproverStats{
			{EmployeeNo: "M1", PendingNow: 2, Decided: 8, MedianDecideSeconds: secs(3 * h)},
			{EmployeeNo: "F1", PendingNow: 0, Decided: 5, MedianDecideSeconds: secs(30 * h)},
		}
		if len(st.Approvers) != len(want) {
			t.Fatalf("approvers: %+v", st.Approvers)
		}
		for i, w := range want {
			g := st.Approvers[i]
			if g.EmployeeNo != w.EmployeeNo || g.PendingNow != w.PendingNow || g.Decided != w.Decided || !eq(g.MedianDecideSeconds, w.MedianDecideSeconds) {
				t.Errorf("approver %d: %+v, want %+v", i, g, w)
			}
		}
	})
	t.Run("exports the same numbers as CSV", func(t *testing.T) {
		var b bytes.Buffer
		if err := st.WriteCSV(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "\nnode,EXP,Expenses,fin,FIN,5,0,2,3,0.4,0.6,108000,180000,107400,179400,4,1,1\n") {
			t.Errorf("csv:\n%s", b.String())
		}
	})
	t.Run("is for ops: employees and approvers get forbidden", func(t *testing.T) {
		if _, err := s.Stats(t.Context(), employee, from, to); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("employee: %v", err)
		}
		if _, err := s.Stats(t.Context(), &auth.Principal{UserID: "a", Roles: []auth.Role{auth.RoleAdmin}}, from, to); err != nil {
			t.Errorf("admin: %v", err)
		}
	})
	t.Run("refuses a reversed or too long range naming to", func(t *testing.T) {
		for _, r := range [][2]time.Time{{to, from}, {from, from}, {from, from.AddDate(2, 0, 0)}} {
			_, err := s.Stats(t.Context(), opsPrincipal, r[0], r[1])
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != "to" {
				t.Errorf("%v..%v: %v", r[0], r[1], err)
			}
		}
	})
}
