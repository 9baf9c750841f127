package training_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/training"
	datasync "github.com/mportal/mportal/sync"
)

type obj = map[string]any

// progressFixture is the training fixture with a sync engine serving training_progress.
type progressFixture struct {
	*fixture
	sync *datasync.Engine
}

func newProgressFixture(t testing.TB) *progressFixture {
	f := &progressFixture{fixture: newFixture(t)}
	f.sync = &datasync.Engine{DB: f.db, Now: f.clock.Now}
	f.svc.Sync = f.sync
	f.sync.Register(f.svc.ProgressSyncTable())
	if err := f.sync.Start(f.ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// readyVideo creates a video for in's audience, playable with a duration of durationMS.
func (f *fixture) readyVideo(in training.Input, durationMS int64) string {
	f.t.Helper()
	v := f.createVideo(in)
	if err := f.svc.MarkReadyForTest(f.ctx, v.ID, durationMS); err != nil {
		f.t.Fatal(err)
	}
	return v.ID
}

// row is a pushed training_progress row of video with ranges [[start, end], …].
func (f *fixture) row(video string, position int64, reportedAgo time.Duration, ranges ...[2]int64) obj {
	rs := []training.Range{}
	for _, r := range ranges {
		rs = append(rs, training.Range{StartMS: r[0], EndMS: r[1]})
	}
	b, _ := json.Marshal(rs)
	return obj{"id": video, "video_id": video, "ranges": string(b), "last_position_ms": position,
		"reported_at_ms": f.clock.Now().Add(-reportedAgo).UnixMilli(), "completed": false, "completed_at": nil,
		"watched_ms": 0, "_status": "created", "_changed": ""}
}

func (f *progressFixture) push(p *auth.Principal, changes obj) *datasync.PushResult {
	f.t.Helper()
	body, _ := json.Marshal(obj{"changes": obj{training.ProgressSyncTableName: changes}})
	res, err := f.sync.Push(f.ctx, p, 0, body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// pull returns p's training_progress rows changed since the cursor, by id, and the timestamp.
func (f *progressFixture) pull(p *auth.Principal, since int64) (map[string]training.ProgressRecord, int64) {
	f.t.Helper()
	var buf bytes.Buffer
	if err := f.sync.Pull(f.ctx, p, since, &buf); err != nil {
		f.t.Fatal(err)
	}
	var r struct {
		Changes map[string]struct {
			Created, Updated []training.ProgressRecord
			Deleted          []string
		}
		Timestamp int64
	}
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		f.t.Fatalf("%v: %s", err, buf.String())
	}
	out := map[string]training.ProgressRecord{}
	c := r.Changes[training.ProgressSyncTableName]
	if len(c.Created) != 0 || len(c.Deleted) != 0 {
		f.t.Fatalf("pull sent created or deleted rows: %s", buf.String())
	}
	for _, rec := range c.Updated {
		out[rec.ID] = rec
	}
	return out, r.Timestamp
}

func ranges(t *testing.T, rec training.ProgressRecord) string {
	t.Helper()
	var rs []training.Range
	if err := json.Unmarshal([]byte(rec.Ranges), &rs); err != nil {
		t.Fatalf("ranges %q: %v", rec.Ranges, err)
	}
	s := ""
	for _, r := range rs {
		s += fmt.Sprintf("[%d,%d)", r.StartMS/1000, r.EndMS/1000)
	}
	return s
}

const tenMinutes = 10 * minute

func TestProgressSync(t *testing.T) {
	f := newProgressFixture(t)
	video := f.readyVideo(training.Input{}, tenMinutes)

	t.Run("two devices pushing overlapping ranges offline converge on their union", func(t *testing.T) {
		// The phone watched 0–4 min an hour ago; the tablet 3–7 min two hours ago, and syncs last.
		if res := f.push(sales, obj{"created": []obj{f.row(video, 4*minute, time.Hour, [2]int64{0, 4 * minute})}}); res.Accepted != 1 {
			t.Fatalf("phone push: %+v", res)
		}
		if res := f.push(sales, obj{"created": []obj{f.row(video, 7*minute, 2*time.Hour, [2]int64{3 * minute, 7 * minute})}}); res.Accepted != 1 {
			t.Fatalf("tablet push: %+v", res)
		}
		rows, _ := f.pull(sales, 0)
		got := rows[video]
		if ranges(t, got) != "[0,420)" || got.WatchedMS != 7*minute || got.Completed || got.CompletedAt != nil {
			t.Fatalf("merged row: %+v", got)
		}
		if got.LastPositionMS != 4*minute {
			t.Fatalf("last position = %d, want the later report's (the phone's 4 min)", got.LastPositionMS)
		}
	})

	t.Run("a replayed push changes nothing and reaches no device again", func(t *testing.T) {
		_, ts := f.pull(sales, 0)
		res := f.push(sales, obj{"updated": []obj{f.row(video, 7*minute, 2*time.Hour, [2]int64{3 * minute, 7 * minute})}})
		if res.Accepted != 1 || len(res.Rejected) != 0 {
			t.Fatalf("replay: %+v", res)
		}
		if rows, _ := f.pull(sales, ts); len(rows) != 0 {
			t.Fatalf("a replay was pulled again: %+v", rows)
		}
	})

	t.Run("completion comes from the watched union, not the last position, and never goes back", func(t *testing.T) {
		_, ts := f.pull(sales, 0)
		// Seeking to the end: position 10 min, but only 0–7 and 9:30–10 watched (7.5 min).
		f.push(sales, obj{"updated": []obj{f.row(video, tenMinutes, 0, [2]int64{9*minute + 30_000, tenMinutes})}})
		rows, ts := f.pull(sales, ts)
		if got := rows[video]; got.Completed || got.LastPositionMS != tenMinutes || got.WatchedMS != 7*minute+30_000 {
			t.Fatalf("after seeking to the end: %+v", got)
		}
		f.clock.Advance(time.Minute)
		completedAt := f.clock.Now().UnixMilli()
		f.push(sales, obj{"updated": []obj{f.row(video, 9*minute, 0, [2]int64{7 * minute, 9 * minute})}})
		rows, ts = f.pull(sales, ts)
		got := rows[video]
		if !got.Completed || got.CompletedAt == nil || *got.CompletedAt != completedAt || got.WatchedMS != 9*minute+30_000 {
			t.Fatalf("after watching 95%%: %+v", got)
		}
		f.clock.Advance(time.Minute)
		f.push(sales, obj{"updated": []obj{f.row(video, 1000, 0, [2]int64{0, 1000})}})
		rows, _ = f.pull(sales, ts)
		if again := rows[video]; !again.Completed || *again.CompletedAt != completedAt || again.LastPositionMS != 1000 {
			t.Fatalf("after watching again from the start: %+v", again)
		}
	})

	t.Run("a user reads and writes only their own rows", func(t *testing.T) {
		f.push(it, obj{"created": []obj{f.row(video, minute, 0, [2]int64{0, minute})}})
		mine, _ := f.pull(it, 0)
		theirs, _ := f.pull(sales, 0)
		if got := mine[video]; got.WatchedMS != minute || got.Completed {
			t.Fatalf("ian's row: %+v", got)
		}
		if got := theirs[video]; !got.Completed {
			t.Fatalf("sam's row was changed by ian's push: %+v", got)
		}
	})

	t.Run("a video not meant for the user is rejected with a reason", func(t *testing.T) {
		itOnly := f.readyVideo(training.Input{Title: "IT only", Departments: []string{"IT"}}, tenMinutes)
		res := f.push(sales, obj{"created": []obj{f.row(itOnly, minute, 0, [2]int64{0, minute})}})
		if res.Accepted != 0 || len(res.Rejected) != 1 || res.Rejected[0].Code != apperr.NotFound || res.Rejected[0].Field != "video_id" {
			t.Fatalf("push: %+v", res)
		}
		rejects, err := f.sync.Rejects(f.ctx, sales)
		if err != nil || len(rejects) != 1 || rejects[0].RecordID != itOnly || rejects[0].Detail == "" {
			t.Fatalf("rejects: %+v %v", rejects, err)
		}
		if rows, _ := f.pull(sales, 0); len(rows) != 1 {
			t.Fatalf("rows: %+v", rows)
		}
	})

	t.Run("malformed rows are rejected naming the column", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			row   obj
			field string
		}{
			{"an id that is not the video's", obj{"id": "x1", "video_id": video, "ranges": "[]", "reported_at_ms": f.clock.Now().UnixMilli()}, "id"},
			{"ranges that are not JSON", obj{"id": video, "video_id": video, "ranges": "0-10", "reported_at_ms": f.clock.Now().UnixMilli()}, "ranges"},
			{"a reversed range", obj{"id": video, "video_id": video, "ranges": `[{"start_ms":5,"end_ms":1}]`, "reported_at_ms": f.clock.Now().UnixMilli()}, "ranges"},
			{"a time in seconds", obj{"id": video, "video_id": video, "ranges": "[]", "reported_at_ms": f.clock.Now().Unix()}, "reported_at_ms"},
			{"a fractional position", obj{"id": video, "video_id": video, "ranges": "[]", "last_position_ms": 1.5, "reported_at_ms": f.clock.Now().UnixMilli()}, "last_position_ms"},
			{"ranges as an array", obj{"id": video, "video_id": video, "ranges": []obj{}, "reported_at_ms": f.clock.Now().UnixMilli()}, "ranges"},
			{"a negative position", obj{"id": video, "video_id": video, "ranges": "[]", "last_position_ms": -1, "reported_at_ms": f.clock.Now().UnixMilli()}, "last_position_ms"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := f.push(it, obj{"updated": []obj{tc.row}})
				if len(res.Rejected) != 1 || res.Rejected[0].Code != apperr.Invalid || res.Rejected[0].Field != tc.field {
					t.Fatalf("push: %+v", res)
				}
			})
		}
	})

	t.Run("progress is never deleted; the delete of an unknown row is accepted", func(t *testing.T) {
		res := f.push(sales, obj{"deleted": []string{video, "never-pushed"}})
		if res.Accepted != 1 || len(res.Rejected) != 1 || res.Rejected[0].ID != video || res.Rejected[0].Code != apperr.Forbidden {
			t.Fatalf("push: %+v", res)
		}
	})

	t.Run("an online report merges the same way and reaches the devices", func(t *testing.T) {
		other := f.readyVideo(training.Input{Title: "online"}, tenMinutes)
		_, ts := f.pull(sales, 0)
		p, err := f.svc.ReportProgress(f.ctx, sales, other, training.ProgressInput{
			Ranges: []training.Range{{StartMS: 0, EndMS: 2 * minute}}, LastPositionMS: 2 * minute})
		if err != nil || p.WatchedMS != 2*minute || p.DurationMS != tenMinutes || p.ReportedAtMS != f.clock.Now().UnixMilli() {
			t.Fatalf("report: %+v %v", p, err)
		}
		rows, _ := f.pull(sales, ts)
		if got, ok := rows[other]; !ok || ranges(t, got) != "[0,120)" || len(rows) != 1 {
			t.Fatalf("pull after the online report: %+v", rows)
		}
		_, err = f.svc.ReportProgress(f.ctx, sales, other, training.ProgressInput{Ranges: []training.Range{{StartMS: 3, EndMS: 3}}})
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != "ranges" {
			t.Fatalf("an empty range: %v", err)
		}
		itOnly := f.readyVideo(training.Input{Title: "IT only, again", Departments: []string{"IT"}}, tenMinutes)
		if _, err := f.svc.ReportProgress(f.ctx, sales, itOnly, training.ProgressInput{}); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("someone else's video: %v", err)
		}
	})
}

// TestProgressOutOfOrder applies the same offline reports in every order, each order as another
// user: every user ends with the same row.
func TestProgressOutOfOrder(t *testing.T) {
	f := newProgressFixture(t)
	video := f.readyVideo(training.Input{}, tenMinutes)
	reports := []obj{
		f.row(video, 2*minute, 3*time.Hour, [2]int64{0, 2 * minute}),
		f.row(video, 6*minute, time.Hour, [2]int64{4 * minute, 6 * minute}, [2]int64{8 * minute, 9 * minute}),
		f.row(video, 5*minute, 2*time.Hour, [2]int64{minute, 5 * minute}),
	}
	orders := [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {1, 2, 0, 1, 2}}
	var want *training.ProgressRecord
	for i, order := range orders {
		p := &auth.Principal{UserID: fmt.Sprintf("user-%d", i), Roles: []auth.Role{auth.RoleEmployee}, Department: "Sales"}
		for _, n := range order {
			f.push(p, obj{"updated": []obj{reports[n]}})
		}
		rows, _ := f.pull(p, 0)
		got := rows[video]
		if want == nil {
			want = &got
			if ranges(t, got) != "[0,360)[480,540)" || got.LastPositionMS != 6*minute || got.Completed {
				t.Fatalf("row: %+v (%s)", got, ranges(t, got))
			}
			continue
		}
		if !reflect.DeepEqual(got, *want) {
			t.Fatalf("order %v gave %+v, order %v gave %+v", order, got, orders[0], *want)
		}
	}
}

// TestProgressConcurrentDevices has devices of one user push disjoint spans of one video at the
// same moment (run with -race): no span is lost to a concurrent merge.
func TestProgressConcurrentDevices(t *testing.T) {
	f := newProgressFixture(t)
	video := f.readyVideo(training.Input{}, tenMinutes)
	const devices = 8
	var wg sync.WaitGroup
	errs := make(chan error, devices)
	for i := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := int64(i) * minute
			row := f.row(video, from+30_000, time.Duration(i)*time.Minute, [2]int64{from, from + 30_000})
			body, _ := json.Marshal(obj{"changes": obj{training.ProgressSyncTableName: obj{"updated": []obj{row}}}})
			res, err := f.sync.Push(f.ctx, sales, 0, body)
			if err == nil && res.Accepted != 1 {
				err = fmt.Errorf("push %d: %+v", i, res)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rows, _ := f.pull(sales, 0)
	want := ""
	for i := range devices {
		want += fmt.Sprintf("[%d,%d)", i*60, i*60+30)
	}
	if got := rows[video]; ranges(t, got) != want || got.WatchedMS != devices*30_000 || got.LastPositionMS != 30_000 {
		t.Fatalf("row: %+v (%s)", got, ranges(t, got))
	}
}

// TestCompletedReadsTheProgressStore: the reminders' Completions is the progress store; only
// users whose watched union reached 90 % count, whatever their last position.
func TestCompletedReadsTheProgressStore(t *testing.T) {
	f := newProgressFixture(t)
	usage := &usageLog{}
	f.svc.Usage = usage
	video := f.readyVideo(training.Input{}, tenMinutes)
	done := &auth.Principal{UserID: "done", Roles: []auth.Role{auth.RoleEmployee}, Department: "Sales"}
	skipped := &auth.Principal{UserID: "skipped-to-the-end", Roles: []auth.Role{auth.RoleEmployee}, Department: "Sales"}
	for range 2 { // a second playback the same day is not a new view
		if _, err := f.svc.Play(f.ctx, done, video); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // a replayed push completes nothing new
		f.push(done, obj{"created": []obj{f.row(video, 10*minute, 0, [2]int64{0, 10 * minute})}})
	}
	f.push(skipped, obj{"created": []obj{f.row(video, 10*minute, 0, [2]int64{9 * minute, 10 * minute})}})
	if got, want := usage.String(), "done training_view "+video+"|done training_completed "+video+"|"; got != want {
		t.Fatalf("usage events %q, want %q", got, want)
	}
	got, err := f.svc.Completed(f.ctx, video, []string{"done", "skipped-to-the-end", "never-started"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string]bool{"done": true}) {
		t.Fatalf("Completed = %v, want only done", got)
	}
	if got, err := f.svc.Completed(f.ctx, video, nil); err != nil || len(got) != 0 {
		t.Fatalf("Completed(no users) = %v, %v", got, err)
	}
}

// usageLog records the usage events the service sends.
type usageLog struct {
	mu     sync.Mutex
	events string
}

func (u *usageLog) Record(userID, _, name string, props map[string]string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.events += userID + " " + name + " " + props["video_id"] + "|"
}

func (u *usageLog) String() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.events
}

// slowFirstWrite is the sync engine whose first write outlives its lease: before that write's
// fn runs, the clock passes the lease and the device pulls, reaping the number and reading past
// it before the row is stamped with it.
type slowFirstWrite struct {
	f      *progressFixture
	p      *auth.Principal
	cursor int64
	slowed bool
}

func (w *slowFirstWrite) Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error {
	return w.f.sync.Write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		if !w.slowed {
			w.slowed = true
			w.f.clock.Advance(datasync.DefaultLease + time.Second)
			_, w.cursor = w.f.pull(w.p, w.cursor)
		}
		return fn(ctx, seq)
	})
}

// A report whose write outlived its lease runs again under a new number; the row, already
// merged by the first run, must still be stamped with it. It was skipped as a replay, and the
// device that had pulled past the first number never got it.
func TestProgressWrittenAgainReachesDevices(t *testing.T) {
	f := newProgressFixture(t)
	video := f.readyVideo(training.Input{}, tenMinutes)
	_, cursor := f.pull(sales, 0)
	w := &slowFirstWrite{f: f, p: sales, cursor: cursor}
	f.svc.Sync = w
	if _, err := f.svc.ReportProgress(f.ctx, sales, video, training.ProgressInput{
		Ranges: []training.Range{{StartMS: 0, EndMS: minute}}, LastPositionMS: minute}); err != nil {
		t.Fatal(err)
	}
	if !w.slowed {
		t.Fatal("the report did not write")
	}
	rows, _ := f.pull(sales, w.cursor)
	if _, ok := rows[video]; !ok {
		t.Fatal("the device that pulled during the slow write never got the progress row")
	}
}
