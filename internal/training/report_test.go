package training_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/training"
)

type noRevoker struct{}

func (noRevoker) RevokeUser(context.Context, string) error { return nil }

// reportFixture seeds a directory and a watch history with known answers:
//
//	E1 Sales, E2 Sales, E3 IT, E4 IT (approver), E5 Ops (ops), E6 Sales (disabled).
//	"Safety": required, due 2026-03-05, everyone.  E1 watched all, E2 0–3 min, E3 0–5 min.
//	"Pitch": optional, Sales.                       E1 0–2 min, E2 0–9 min, E5 (ops, not assigned) 0–4 min.
//	"Approvals": required, due 2026-03-20, approvers. E4 0–1 min.
//
// Every video lasts 10 minutes; the report is read on 2026-03-10.
type reportFixture struct {
	*progressFixture
	users  map[string]*auth.Principal
	videos map[string]string
}

func newReportFixture(t *testing.T) *reportFixture {
	f := &reportFixture{progressFixture: newProgressFixture(t), users: map[string]*auth.Principal{}, videos: map[string]string{}}
	dir := &directory.Users{DB: f.db, Argon: auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1},
		Sessions: noRevoker{}, Now: f.clock.Now}
	if err := dir.EnsureIndexes(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.svc.Directory = training.DirectoryFunc(func(ctx context.Context) ([]training.Employee, error) {
		users, err := dir.ActiveUsers(ctx)
		var out []training.Employee
		for _, u := range users {
			e := training.Employee{ID: u.ID, EmployeeNo: u.EmployeeNo, Name: u.Name, Department: u.Department}
			for _, r := range u.Roles {
				e.Roles = append(e.Roles, string(r))
			}
			out = append(out, e)
		}
		return out, err
	})
	admin := &auth.Principal{UserID: "admin", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}}
	for _, u := range []struct {
		no, dept string
		role     auth.Role
	}{{"E1", "Sales", ""}, {"E2", "Sales", ""}, {"E3", "IT", ""}, {"E4", "IT", auth.RoleApprover}, {"E5", "Ops", auth.RoleOps}, {"E6", "Sales", ""}} {
		roles := []auth.Role{auth.RoleEmployee}
		if u.role != "" {
			roles = append(roles, u.role)
		}
		created, _, err := dir.Create(f.ctx, admin, directory.CreateUser{EmployeeNo: u.no, Name: "Name " + u.no, Department: u.dept, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		f.users[u.no] = &auth.Principal{UserID: created.ID, Roles: roles, Department: u.dept}
	}
	disabled := directory.StatusDisabled
	if _, err := dir.Update(f.ctx, admin, f.users["E6"].UserID, directory.UserUpdate{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	due1, due2 := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	f.videos["Safety"] = f.readyVideo(training.Input{Title: "Safety", Required: true, DueAt: &due1}, tenMinutes)
	f.videos["Pitch"] = f.readyVideo(training.Input{Title: "=Pitch", Departments: []string{"Sales"}}, tenMinutes)
	f.videos["Approvals"] = f.readyVideo(training.Input{Title: "Approvals", Required: true, DueAt: &due2, Roles: []string{"approver"}}, tenMinutes)
	for _, w := range []struct {
		user, video string
		minutes     int64
	}{{"E1", "Safety", 10}, {"E2", "Safety", 3}, {"E3", "Safety", 5}, {"E1", "Pitch", 2}, {"E2", "Pitch", 9},
		{"E5", "Pitch", 4}, {"E4", "Approvals", 1}, {"E6", "Safety", 10}} {
		if w.user == "E6" {
			continue // disabled before watching: not counted anywhere
		}
		_, err := f.svc.ReportProgress(f.ctx, f.users[w.user], f.videos[w.video], training.ProgressInput{
			Ranges: []training.Range{{StartMS: 0, EndMS: w.minutes * minute}}, LastPositionMS: w.minutes * minute})
		if err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Set(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	return f
}

func counts(a, s, c, o int, medianMinutes float64) training.Counts {
	return training.Counts{Assigned: a, Started: s, Completed: c, Overdue: o, MedianWatchMS: int64(medianMinutes * minute)}
}

func TestCompletionReport(t *testing.T) {
	f := newReportFixture(t)
	ops := f.users["E5"]

	t.Run("counts per video, per department of a video and per department", func(t *testing.T) {
		r, err := f.svc.Completion(f.ctx, ops)
		if err != nil {
			t.Fatal(err)
		}
		type line struct {
			Title string
			training.Counts
			By []training.DepartmentCounts
		}
		var got []line
		for _, v := range r.Videos {
			got = append(got, line{v.Title, v.Counts, v.ByDepartment})
		}
		want := []line{
			{"Safety", counts(5, 3, 1, 4, 5), []training.DepartmentCounts{
				{Department: "IT", Counts: counts(2, 1, 0, 2, 5)},
				{Department: "Ops", Counts: counts(1, 0, 0, 1, 0)},
				{Department: "Sales", Counts: counts(2, 2, 1, 1, 6.5)}}},
			{"=Pitch", counts(2, 2, 1, 0, 5.5), []training.DepartmentCounts{
				{Department: "Sales", Counts: counts(2, 2, 1, 0, 5.5)}}},
			{"Approvals", counts(1, 1, 0, 0, 1), []training.DepartmentCounts{
				{Department: "IT", Counts: counts(1, 1, 0, 0, 1)}}},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("videos (-want +got):\n%s", d)
		}
		wantDepts := []training.DepartmentCounts{
			{Department: "IT", Counts: counts(3, 2, 0, 2, 3)},
			{Department: "Ops", Counts: counts(1, 0, 0, 1, 0)},
			{Department: "Sales", Counts: counts(4, 4, 2, 1, 6)},
		}
		if d := cmp.Diff(wantDepts, r.Departments); d != "" {
			t.Fatalf("departments (-want +got):\n%s", d)
		}
		if !r.GeneratedAt.Equal(f.clock.Now()) {
			t.Fatalf("generated at %v", r.GeneratedAt)
		}
	})

	t.Run("the drill-down lists a department's assigned employees", func(t *testing.T) {
		r, err := f.svc.VideoCompletionUsers(f.ctx, ops, f.videos["Safety"], "Sales")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Users) != 2 || r.Video.Assigned != 5 {
			t.Fatalf("drill-down: %+v", r)
		}
		e1, e2 := r.Users[0], r.Users[1]
		if e1.EmployeeNo != "E1" || e1.Status != training.ProgressCompleted || e1.CompletedAt == nil || e1.Overdue ||
			!e1.CompletedAt.Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) {
			t.Fatalf("E1: %+v", e1)
		}
		if e2.EmployeeNo != "E2" || e2.Status != training.ProgressInProgress || !e2.Overdue || e2.WatchedMS != 3*minute {
			t.Fatalf("E2: %+v", e2)
		}
		all, err := f.svc.VideoCompletionUsers(f.ctx, ops, f.videos["Safety"], "")
		if err != nil || len(all.Users) != 5 || all.Users[3].Status != training.ProgressNotStarted || !all.Users[3].Overdue {
			t.Fatalf("all: %+v %v", all, err)
		}
	})

	t.Run("the CSV export has one line per assigned employee and video, formulas defused", func(t *testing.T) {
		write, err := f.svc.WriteCompletionCSV(f.ctx, ops, "")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1+5+2+1 || strings.Join(rows[0], ",") !=
			"video_id,title,required,due_at,employee_no,name,department,status,watched_ms,duration_ms,last_position_ms,completed_at,overdue" {
			t.Fatalf("csv: %v", rows)
		}
		if got := strings.Join(rows[1], ","); got != f.videos["Safety"]+",Safety,true,2026-03-05T00:00:00Z,E1,Name E1,Sales,completed,600000,600000,600000,2026-03-02T09:00:00Z,false" {
			t.Fatalf("first line: %s", got)
		}
		if rows[6][1] != "'=Pitch" {
			t.Fatalf("a title starting with = : %q", rows[6][1])
		}
	})

	t.Run("employees may not read it; an unknown video is not found", func(t *testing.T) {
		if _, err := f.svc.Completion(f.ctx, f.users["E1"]); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("employee: %v", err)
		}
		if _, err := f.svc.WriteCompletionCSV(f.ctx, f.users["E4"], ""); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("employee csv: %v", err)
		}
		if _, err := f.svc.VideoCompletionUsers(f.ctx, ops, "nope", ""); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown video: %v", err)
		}
	})
}

// The dashboard asks for the report on every visit: with no video there is nothing to count,
// so the directory (10,000 users on a large site) is not read.
func TestCompletionWithoutVideosLeavesTheDirectoryUnread(t *testing.T) {
	f := newFixture(t)
	reads := 0
	f.svc.Directory = training.DirectoryFunc(func(context.Context) ([]training.Employee, error) {
		reads++
		return []training.Employee{{ID: "u1", EmployeeNo: "E1", Department: "Sales", Roles: []string{"employee"}}}, nil
	})
	rep, err := f.svc.Completion(f.ctx, opsUser)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Videos) != 0 || len(rep.Departments) != 0 || reads != 0 {
		t.Errorf("videos %v, departments %v, directory read %d times; want none", rep.Videos, rep.Departments, reads)
	}
	f.readyVideo(training.Input{Title: "Safety"}, tenMinutes)
	rep, err = f.svc.Completion(f.ctx, opsUser)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Videos) != 1 || rep.Videos[0].Assigned != 1 || reads != 1 {
		t.Errorf("videos %+v, directory read %d times; want one video assigned to one, one read", rep.Videos, reads)
	}
}
