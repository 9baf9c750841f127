package training

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/csvcell"
)

// Completion returns the completion report of every video (not deleted, oldest first) with its
// departments, and the departments over every video. It returns forbidden without the ops or
// admin role, unavailable when the database cannot be read.
func (s *Service) Completion(ctx context.Context, p *auth.Principal) (*CompletionReport, error) {
	r, err := s.reportData(ctx, p, bson.D{})
	if err != nil {
		return nil, err
	}
	out := &CompletionReport{GeneratedAt: r.now, Videos: []VideoCompletion{}}
	total := map[string]*tally{}
	for i := range r.videos {
		v, _ := r.video(&r.videos[i], "", total)
		out.Videos = append(out.Videos, v)
	}
	out.Departments = departments(total)
	return out, nil
}

// VideoCompletionUsers returns one video's report line and its assigned employees, by employee
// number, optionally of one department. It returns forbidden without the ops or admin role,
// not_found for an unknown video.
func (s *Service) VideoCompletionUsers(ctx context.Context, p *auth.Principal, videoID, department string) (*VideoUsers, error) {
	r, err := s.reportData(ctx, p, bson.D{{Key: "video_id", Value: videoID}})
	if err != nil {
		return nil, err
	}
	for i := range r.videos {
		if r.videos[i].ID == videoID {
			v, users := r.video(&r.videos[i], department, nil)
			return &VideoUsers{Video: v, Users: users}, nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "video not found")
}

// csvHeader is the export's first line.
var csvHeader = []string{"video_id", "title", "required", "due_at", "employee_no", "name", "department",
	"status", "watched_ms", "duration_ms", "last_position_ms", "completed_at", "overdue"}

// WriteCompletionCSV writes the drill-down of every video (or of videoID only) as CSV: one line
// per assigned employee and video. It checks the role and reads everything before writing, so
// an error (forbidden, not_found, unavailable) comes before any byte.
func (s *Service) WriteCompletionCSV(ctx context.Context, p *auth.Principal, videoID string) (func(io.Writer) error, error) {
	filter := bson.D{}
	if videoID != "" {
		filter = bson.D{{Key: "video_id", Value: videoID}}
	}
	r, err := s.reportData(ctx, p, filter)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	found := false
	for i := range r.videos {
		d := &r.videos[i]
		if videoID != "" && d.ID != videoID {
			continue
		}
		found = true
		v, users := r.video(d, "", nil)
		due := ""
		if d.DueAt != nil {
			due = d.DueAt.UTC().Format(time.RFC3339)
		}
		for _, u := range users {
			done := ""
			if u.CompletedAt != nil {
				done = u.CompletedAt.UTC().Format(time.RFC3339)
			}
			rows = append(rows, []string{v.VideoID, csvcell.Safe(v.Title), strconv.FormatBool(v.Required), due,
				csvcell.Safe(u.EmployeeNo), csvcell.Safe(u.Name), csvcell.Safe(u.Department), u.Status,
				strconv.FormatInt(u.WatchedMS, 10), strconv.FormatInt(v.DurationMS, 10),
				strconv.FormatInt(u.LastPositionMS, 10), done, strconv.FormatBool(u.Overdue)})
		}
	}
	if videoID != "" && !found {
		return nil, apperr.New(apperr.NotFound, "video not found")
	}
	return func(w io.Writer) error {
		out := csv.NewWriter(w)
		_ = out.Write(csvHeader)
		_ = out.WriteAll(rows)
		return out.Error()
	}, nil
}
