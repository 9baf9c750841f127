package directory

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
)

// MaxImportRows is the most data rows one CSV import may have.
const MaxImportRows = 10000

// Import columns. Only employee_no and name are required.
var importColumns = []string{"employee_no", "name", "email", "department", "roles", "locale", "timezone", "status"}

// csvRow is one data row: its line in the file and its cells by column name, trimmed. A column
// missing from the header is missing from cells.
type csvRow struct {
	line  int
	cells map[string]string
	err   error // a row-level problem found while parsing
}

// readCSV parses the whole file before anything is applied, so that a file that is malformed
// (bad header, syntax error, too many rows) changes nothing.
func readCSV(r io.Reader) ([]csvRow, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, apperr.New(apperr.Invalid, "the CSV file is empty; it needs a header row")
	}
	if err != nil {
		return nil, syntaxError(err)
	}
	columns, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	var rows []csvRow
	for {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil && !errors.Is(err, csv.ErrFieldCount) {
			// Before FieldPos: a record that failed to parse has no field positions, and
			// FieldPos panics (a bad quote in the first column was a 500).
			return nil, syntaxError(err)
		}
		line, _ := cr.FieldPos(0)
		for _, cell := range record {
			if !utf8.ValidString(cell) {
				// Excel's default CSV in Chinese locales is GBK: every row with a Chinese name
				// failed with "control characters", which sent admins looking in the wrong place.
				return nil, apperr.New(apperr.Invalid, "line %d is not UTF-8 text: save the file as \"CSV UTF-8\"", line)
			}
		}
		row := csvRow{line: line}
		switch {
		case err != nil: // csv.ErrFieldCount
			row.err = apperr.New(apperr.Invalid, "the row has %d fields but the header has %d", len(record), len(columns))
		default:
			row.cells = make(map[string]string, len(columns))
			for i, col := range columns {
				row.cells[col] = strings.TrimSpace(record[i])
			}
		}
		if len(rows) == MaxImportRows {
			return nil, apperr.New(apperr.TooLarge, "the CSV file has more than %d rows", MaxImportRows)
		}
		rows = append(rows, row)
	}
}

// parseHeader returns the column names in file order, refusing unknown and repeated columns so
// that a misspelt column is never silently ignored.
func parseHeader(header []string) ([]string, error) {
	columns := make([]string, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // spreadsheet exports start with a byte-order mark
		}
		col := strings.ToLower(strings.TrimSpace(h))
		switch {
		case !slices.Contains(importColumns, col):
			return nil, &apperr.Error{Code: apperr.Invalid, Field: h,
				Message: fmt.Sprintf("unknown column %q; the columns are %s", h, strings.Join(importColumns, ", "))}
		case slices.Contains(columns[:i], col):
			return nil, &apperr.Error{Code: apperr.Invalid, Field: col, Message: fmt.Sprintf("column %q appears twice", col)}
		}
		columns[i] = col
	}
	for _, required := range []string{"employee_no", "name"} {
		if !slices.Contains(columns, required) {
			return nil, &apperr.Error{Code: apperr.Invalid, Field: required,
				Message: fmt.Sprintf("the header row needs a %q column", required)}
		}
	}
	return columns, nil
}

func syntaxError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return apperr.Wrap(err, apperr.Invalid, "CSV syntax error on line %d: %v", pe.Line, pe.Err)
	}
	return fmt.Errorf("read CSV: %w", err)
}
