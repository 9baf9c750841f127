package feedback

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/csvcell"
	"github.com/mportal/mportal/internal/mongodb"
)

// exportHeader is the follow-up table's header row.
var exportHeader = []string{"id", "created", "author", "department", "app", "build", "channel", "category",
	"status", "assignee", "resolution", "me_too", "comments", "text"}

// Export authorizes and validates an export of the follow-up table for f (its paging fields are
// ignored) and returns the function that streams it as CSV, newest first, one database cursor
// row at a time. It returns forbidden unless actor is ops or admin and invalid for a bad filter;
// the returned function returns unavailable when the database fails mid-way.
func (s *Service) Export(ctx context.Context, actor *auth.Principal, f Filter) (func(ctx context.Context, w io.Writer) error, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	filter, err := f.query()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, w io.Writer) error {
		cur, err := s.sorted(ctx, filter, 0)
		if err != nil {
			return err
		}
		defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
		out := csv.NewWriter(w)
		if err := out.Write(exportHeader); err != nil {
			return err
		}
		for cur.Next(ctx) {
			var d feedbackDoc
			if err := cur.Decode(&d); err != nil {
				return fmt.Errorf("export feedback: decode: %w", err)
			}
			meToo, comments, _ := s.counts.of(d.ID, "")
			row := []string{d.ID, msTime(d.CreatedAt).Format(time.RFC3339), d.AuthorName, d.Department, d.AppID,
				strconv.FormatInt(d.Build, 10), d.Channel, d.Category, d.Status, d.AssigneeID, d.Resolution,
				strconv.Itoa(meToo), strconv.Itoa(comments), d.Text}
			for i := range row {
				row[i] = csvcell.Safe(row[i])
			}
			if err := out.Write(row); err != nil {
				return err
			}
		}
		if err := cur.Err(); err != nil {
			return fmt.Errorf("export feedback: %w", mongodb.Translate(err, "feedback"))
		}
		out.Flush()
		return out.Error()
	}, nil
}
