package datasync

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// TableWriter streams one table's part of a pull response: created records are written as they
// come, updated and deleted ones are buffered until the table ends (the wire format puts them
// after the created array). The same id is never written twice in one pull: the first write of
// an id wins and later ones are dropped.
type TableWriter struct {
	w       *bufio.Writer
	seen    map[string]struct{}
	created int
	updated bytes.Buffer
	nUpd    int
	deleted []string
	records int
}

func newTableWriter(w *bufio.Writer, name string) (*TableWriter, error) {
	tw := &TableWriter{w: w, seen: map[string]struct{}{}}
	if err := writeString(w, strconv.Quote(name)+`:{"created":[`); err != nil {
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
	w.records++
	return true
}

// Created writes rec, which must marshal to a JSON object whose "id" is id, as created.
func (w *TableWriter) Created(id string, rec any) error {
	if !w.first(id) {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record %s: %w", id, err)
	}
	if w.created > 0 {
		if err := w.w.WriteByte(','); err != nil {
			return err
		}
	}
	w.created++
	_, err = w.w.Write(b)
	return err
}

// Updated buffers rec, which must marshal to a JSON object whose "id" is id, as updated.
func (w *TableWriter) Updated(id string, rec any) error {
	if !w.first(id) {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record %s: %w", id, err)
	}
	if w.nUpd > 0 {
		w.updated.WriteByte(',')
	}
	w.nUpd++
	w.updated.Write(b)
	return nil
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
	if err := writeString(w.w, `],"updated":[`); err != nil {
		return err
	}
	if _, err := w.w.Write(w.updated.Bytes()); err != nil {
		return err
	}
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
