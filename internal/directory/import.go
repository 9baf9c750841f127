package directory

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// Outcomes of one import row.
const (
	RowCreated   = "created"
	RowUpdated   = "updated"
	RowUnchanged = "unchanged"
	RowError     = "error"
)

// ImportRow is the outcome of one data row. Line is the row's line in the file (the header is
// line 1). Error and Field explain a failed row; such a row changed nothing.
type ImportRow struct {
	Line       int    `json:"line"`
	EmployeeNo string `json:"employee_no"`
	Status     string `json:"status"`
	Error      string `json:"error,omitempty"`
	Field      string `json:"field,omitempty"`
}

// ImportResult counts the outcomes of an import and lists every row.
type ImportResult struct {
	Created   int         `json:"created"`
	Updated   int         `json:"updated"`
	Unchanged int         `json:"unchanged"`
	Failed    int         `json:"failed"`
	Rows      []ImportRow `json:"rows"`
}

// Import creates and updates users from a CSV file with a header row naming some of the columns
// employee_no, name, email, department, roles (separated by ';'), locale, timezone, status, in any
// order; employee_no and name are required. It is idempotent: rows are matched to users by
// employee number (case-insensitively), an existing user is updated only where a field differs,
// and importing the same file again leaves everything unchanged.
//
// A column missing from the header leaves that field of existing users alone; an empty cell sets
// the field's default (no e-mail, no department, roles employee, locale zh-CN, timezone
// Asia/Shanghai, status active). Disabling a user revokes their sessions. A created user has no
// password and cannot log in until an admin resets their password. Once the rows are applied,
// the devices of existing users whose roles or department the file sets leave the release
// channels that no longer include them, in one pass (Devices).
//
// Each row is validated in full before it is written, so a bad row is reported and changes
// nothing, and the other rows still apply. The whole file is refused, before any row is applied,
// with forbidden for non-admins, invalid for an unknown, repeated or missing column or a CSV
// syntax error, and too_large beyond MaxImportRows rows.
func (s *Users) Import(ctx context.Context, actor *auth.Principal, r io.Reader) (*ImportResult, error) {
	if err := s.requireAdmin(ctx, actor); err != nil {
		return nil, err
	}
	return s.importCSV(ctx, actor, r)
}

// ImportAsSystem is Import without an actor, for the command line run by an operator with
// direct access to the deployment.
func (s *Users) ImportAsSystem(ctx context.Context, r io.Reader) (*ImportResult, error) {
	return s.importCSV(ctx, nil, r)
}

func (s *Users) importCSV(ctx context.Context, actor *auth.Principal, r io.Reader) (*ImportResult, error) {
	rows, err := readCSV(r)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Rows: make([]ImportRow, 0, len(rows))}
	firstLine := map[string]int{} // lower-cased employee number -> line of its first row
	// Existing users whose roles or department the file sets: their devices leave the release
	// channels that no longer include them, in one pass once the rows are applied (also when
	// the import stops early: the rows applied stay applied).
	var follow []string
	defer func() { s.followChannels(ctx, follow...) }()
	for _, row := range rows {
		out := ImportRow{Line: row.line, EmployeeNo: row.cells["employee_no"]}
		err := row.err
		if err == nil {
			key := strings.ToLower(out.EmployeeNo)
			if first, dup := firstLine[key]; dup && key != "" {
				err = apperr.Field("employee_no", "employee_no %q already appeared on line %d", out.EmployeeNo, first)
			} else {
				firstLine[key] = row.line
				var id string
				out.Status, id, err = s.importRow(ctx, actor, row.cells)
				if id != "" && (hasCell(row.cells, "roles") || hasCell(row.cells, "department")) {
					follow = append(follow, id)
				}
			}
		}
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || (e.Code != apperr.Invalid && e.Code != apperr.Conflict) {
				// Not the row's fault (the database is down, a bug): stop. Rows already applied
				// stay applied; importing the file again finishes the job.
				return nil, fmt.Errorf("import line %d: %w", row.line, err)
			}
			out.Status, out.Error, out.Field = RowError, e.Message, e.Field
		}
		res.Rows = append(res.Rows, out)
		switch out.Status {
		case RowCreated:
			res.Created++
		case RowUpdated:
			res.Updated++
		case RowUnchanged:
			res.Unchanged++
		default:
			res.Failed++
		}
	}
	return res, nil
}

func hasCell(cells map[string]string, col string) bool {
	_, ok := cells[col]
	return ok
}
