package training

import (
	"context"
	"slices"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// Employee is an active user as the completion report counts them.
type Employee struct {
	ID         string
	EmployeeNo string
	Name       string
	Department string
	Roles      []string
}

// Directory is the employee directory as the completion report reads it (directory.Users,
// adapted in cmd).
type Directory interface {
	// ActiveEmployees lists every active user. It returns unavailable when the directory cannot
	// be read.
	ActiveEmployees(ctx context.Context) ([]Employee, error)
}

// DirectoryFunc is a Directory made of a function (cmd adapts directory.Users with it).
type DirectoryFunc func(ctx context.Context) ([]Employee, error)

// ActiveEmployees implements Directory.
func (f DirectoryFunc) ActiveEmployees(ctx context.Context) ([]Employee, error) { return f(ctx) }

// User progress states in the completion report.
const (
	ProgressNotStarted = "not_started" // no watched span yet
	ProgressInProgress = "in_progress" // watched some, not yet CompletionShare
	ProgressCompleted  = "completed"
)

// Counts are a completion report's figures for a set of assignments (one video's employees, a
// department's): Assigned are the active employees in the video's audience; Started those who
// watched any span, Completed those whose progress completed; Overdue those not completed when
// the video is required and its due date has passed. MedianWatchMS is the median of the
// watched time (the union of the ranges) of those who started, 0 when nobody did.
type Counts struct {
	Assigned      int   `json:"assigned"`
	Started       int   `json:"started"`
	Completed     int   `json:"completed"`
	Overdue       int   `json:"overdue"`
	MedianWatchMS int64 `json:"median_watch_ms"`
}

// DepartmentCounts are the counts of one department.
type DepartmentCounts struct {
	Department string `json:"department"`
	Counts
}

// VideoCompletion is one video's line of the completion report, with its departments.
type VideoCompletion struct {
	VideoID     string     `json:"video_id"`
	Title       string     `json:"title"`
	Required    bool       `json:"required"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	Published   bool       `json:"published"`
	DurationMS  int64      `json:"duration_ms"`
	Roles       []string   `json:"roles"`
	Departments []string   `json:"departments"`
	Counts
	ByDepartment []DepartmentCounts `json:"by_department"`
}

// CompletionReport is the ops completion report: per video (and its departments) and per
// department over every video, as of GeneratedAt.
type CompletionReport struct {
	GeneratedAt time.Time          `json:"generated_at"`
	Videos      []VideoCompletion  `json:"videos"`
	Departments []DepartmentCounts `json:"departments"`
}

// UserCompletion is one assigned employee's progress on a video (the report's drill-down).
type UserCompletion struct {
	UserID         string     `json:"user_id"`
	EmployeeNo     string     `json:"employee_no"`
	Name           string     `json:"name"`
	Department     string     `json:"department"`
	Status         string     `json:"status"`
	WatchedMS      int64      `json:"watched_ms"`
	LastPositionMS int64      `json:"last_position_ms"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
	Overdue        bool       `json:"overdue"`
}

// VideoUsers is one video's line of the report and its assigned employees.
type VideoUsers struct {
	Video VideoCompletion  `json:"video"`
	Users []UserCompletion `json:"users"`
}

// assigned reports whether e is in d's audience: one of its roles (none: every role) and one of
// its departments (none: every department). Unlike the catalogue, ops and admins are assigned
// only what targets them.
func assigned(e *Employee, d *videoDoc) bool {
	if len(d.Roles) > 0 && !slices.ContainsFunc(d.Roles, func(r string) bool { return slices.Contains(e.Roles, r) }) {
		return false
	}
	return len(d.Departments) == 0 || slices.Contains(d.Departments, e.Department)
}

// tally accumulates Counts.
type tally struct {
	Counts
	watched []int64
}

func (t *tally) add(u *UserCompletion) {
	t.Assigned++
	if u.Status != ProgressNotStarted {
		t.Started++
		t.watched = append(t.watched, u.WatchedMS)
	}
	if u.Status == ProgressCompleted {
		t.Completed++
	}
	if u.Overdue {
		t.Overdue++
	}
}

// counts returns the totals with the median: the middle value, or the mean of the two middle
// ones (rounded down) for an even number.
func (t *tally) counts() Counts {
	c := t.Counts
	if n := len(t.watched); n > 0 {
		w := slices.Clone(t.watched)
		slices.Sort(w)
		c.MedianWatchMS = w[n/2]
		if n%2 == 0 {
			c.MedianWatchMS = (w[n/2-1] + w[n/2]) / 2
		}
	}
	return c
}

// departments turns tallies by department into a list sorted by name.
func departments(by map[string]*tally) []DepartmentCounts {
	out := make([]DepartmentCounts, 0, len(by))
	for name, t := range by {
		out = append(out, DepartmentCounts{Department: name, Counts: t.counts()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Department < out[j].Department })
	return out
}

// userCompletion is e's line for video d given their progress (nil: none) at now.
func userCompletion(e *Employee, d *videoDoc, pr *progressDoc, now time.Time) UserCompletion {
	u := UserCompletion{UserID: e.ID, EmployeeNo: e.EmployeeNo, Name: e.Name, Department: e.Department, Status: ProgressNotStarted}
	if pr != nil {
		u.WatchedMS, u.LastPositionMS, u.CompletedAt = pr.WatchedMS, pr.LastPositionMS, pr.CompletedAt
		switch {
		case pr.Completed:
			u.Status = ProgressCompleted
		case pr.WatchedMS > 0:
			u.Status = ProgressInProgress
		}
	}
	u.Overdue = d.Required && d.DueAt != nil && now.After(*d.DueAt) && u.Status != ProgressCompleted
	return u
}

// reportData is what a report is computed from, read once.
type reportData struct {
	now       time.Time
	videos    []videoDoc
	employees []Employee
	progress  map[string]*progressDoc // by progress id
}

func (s *Service) reportData(ctx context.Context, p *auth.Principal, videoFilter bson.D) (*reportData, error) {
	if err := requireOps(p); err != nil {
		return nil, err
	}
	videos, err := s.videos(ctx)
	if err != nil {
		return nil, err
	}
	r := &reportData{now: s.Now.UTC(), videos: videos}
	if len(videos) == 0 {
		// Nothing to report on: reading the roster (10,000 users took over a second on the
		// embedded database) and the progress would only be thrown away.
		return r, nil
	}
	employees, err := s.Directory.ActiveEmployees(ctx)
	if err != nil {
		return nil, err
	}
	// The report needs no ranges: leaving them out halves what is read and decoded.
	docs, err := mongodb.FindAll[progressDoc](ctx, s.coll(progressColl), videoFilter, "progress",
		options.Find().SetProjection(bson.D{{Key: "ranges", Value: 0}}))
	if err != nil {
		return nil, err
	}
	r.employees, r.progress = employees, make(map[string]*progressDoc, len(docs))
	for i := range docs {
		r.progress[docs[i].ID] = &docs[i]
	}
	return r, nil
}

// video returns d's report line and its assigned employees' lines (department "" keeps all).
func (r *reportData) video(d *videoDoc, department string, total map[string]*tally) (VideoCompletion, []UserCompletion) {
	v := VideoCompletion{VideoID: d.ID, Title: d.Title, Required: d.Required, DueAt: d.DueAt, Published: d.Published,
		Roles: nonNil(d.Roles), Departments: nonNil(d.Departments)}
	if d.Current != nil {
		v.DurationMS = d.Current.DurationMS
	}
	var all tally
	by := map[string]*tally{}
	users := []UserCompletion{}
	for i := range r.employees {
		e := &r.employees[i]
		if !assigned(e, d) {
			continue
		}
		u := userCompletion(e, d, r.progress[progressID(e.ID, d.ID)], r.now)
		all.add(&u)
		for _, m := range []map[string]*tally{by, total} {
			if m == nil {
				continue
			}
			if m[e.Department] == nil {
				m[e.Department] = &tally{}
			}
			m[e.Department].add(&u)
		}
		if department == "" || e.Department == department {
			users = append(users, u)
		}
	}
	v.Counts, v.ByDepartment = all.counts(), departments(by)
	sort.SliceStable(users, func(i, j int) bool { return users[i].EmployeeNo < users[j].EmployeeNo })
	return v, users
}
