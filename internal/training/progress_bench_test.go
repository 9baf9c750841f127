package training_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/training"
)

// BenchmarkProgressPush is one device's sync push of one progress row that adds a span (so every
// push writes): the read-merge-write of the row plus the sync engine's sequence and change log,
// on the embedded FerretDB.
func BenchmarkProgressPush(b *testing.B) {
	f := newProgressFixture(b)
	video := f.readyVideo(training.Input{}, 24*60*minute)
	b.ResetTimer()
	for i := range b.N {
		row := f.row(video, int64(i+1)*1000, 0, [2]int64{int64(i) * 2000, int64(i)*2000 + 1000})
		body, _ := json.Marshal(obj{"changes": obj{training.ProgressSyncTableName: obj{"updated": []obj{row}}}})
		res, err := f.sync.Push(f.ctx, sales, 0, body)
		if err != nil || res.Accepted != 1 {
			b.Fatalf("push: %+v %v", res, err)
		}
	}
}

// BenchmarkCompletionReport computes the report of 5 videos for 2,000 employees in 10
// departments with 5,000 progress rows (half of the assignments started, a fifth completed).
func BenchmarkCompletionReport(b *testing.B) {
	f := newFixture(b)
	const employees, videos = 2000, 5
	var staff []training.Employee
	for i := range employees {
		staff = append(staff, training.Employee{ID: fmt.Sprintf("u%05d", i), EmployeeNo: fmt.Sprintf("E%05d", i),
			Name: fmt.Sprintf("Employee %d", i), Department: fmt.Sprintf("Dept %d", i%10), Roles: []string{"employee"}})
	}
	f.svc.Directory = training.DirectoryFunc(func(context.Context) ([]training.Employee, error) { return staff, nil })
	due := f.clock.Now().Add(-time.Hour)
	var rows []training.SeedProgress
	for v := range videos {
		in := training.Input{Title: fmt.Sprintf("Video %d", v)}
		if v%2 == 0 {
			in.Required, in.DueAt = true, &due
		}
		id := f.readyVideo(in, 10*minute)
		for i := 0; i < employees; i += 2 {
			rows = append(rows, training.SeedProgress{UserID: staff[i].ID, VideoID: id, WatchedMS: int64(i%10+1) * minute, Completed: i%10 == 8})
		}
	}
	if err := f.svc.SeedProgressForTest(f.ctx, rows); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		r, err := f.svc.Completion(f.ctx, opsUser)
		if err != nil || len(r.Videos) != videos || r.Videos[0].Assigned != employees || r.Videos[0].Started != employees/2 {
			b.Fatalf("report: %v", err)
		}
	}
}
