package datasync

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// TableWriter streams one table's part of a pull response. The wire shape is fixed:
// "created" is always empty, every live record is written to "updated" as it comes (the big
// array is never buffered), and deleted ids are buffered until the table ends. Sending every
// live record as updated is what WatermelonDB's sendCreatedAsUpdated expects: it creates a
// record it lacks, merges one it has column by column, and leaves one the user deleted locally
// deleted (the delete is pushed next), where a "created" record would be re-created. The same id
// is never written twice in one pull: the first write of an id wins and later ones are dropped.
type TableWriter struct {
	w       *bufio.Writer
	seen    map[string]struct{}
	live    int
	deleted []string
}

func newTableWriter(w *bufio.Writer, name string) (*TableWriter, error) {
	tw := &TableWriter{w: w, seen: map[string]struct{}{}}
	if err := writeString(w, strconv.Quote(name)+`:{"created":[],"updated":[`); err != nil {
		return nil, err
	}
	return tw, nil
}

// first reports whether id has not been written yet, and marks it written.
func (w *TableWriter) first(id string) bool {
	if _, dup := w.seen[id]; dup {
		return false
	}
	w.seen[id] = struct{}{}
	return true
}

// Live writes rec, which must marshal to a JSON object whose "id" is id, as a live record: in
// "updated", whether the device has it or not. It returns the encoding or write error.
func (w *TableWriter) Live(id string, rec any) error {
	if !w.first(id) {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record %s: %w", id, err)
	}
	if w.live > 0 {
		if err := w.w.WriteByte(','); err != nil {
			return err
		}
	}
	w.live++
	_, err = w.w.Write(b)
	return err
}

// Deleted buffers id as deleted.
func (w *TableWriter) Deleted(id string) error {
	if w.first(id) {
		w.deleted = append(w.deleted, id)
	}
	return nil
}

// end closes the table's object.
func (w *TableWriter) end() error {
	del, err := json.Marshal(nonNil(w.deleted))
	if err != nil {
		return err
	}
	if err := writeString(w.w, `],"deleted":`); err != nil {
		return err
	}
	if _, err := w.w.Write(del); err != nil {
		return err
	}
	return w.w.WriteByte('}')
}

func writeString(w io.Writer, s string) error {
	_, err := io.WriteString(w, s)
	return err
}
