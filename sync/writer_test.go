package datasync

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// writeTable runs steps on a TableWriter for the table "notes" and returns what it wrote.
func writeTable(t *testing.T, steps func(tw *TableWriter) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	buf.WriteString("{")
	tw, err := newTableWriter(bw, "notes")
	if err != nil {
		t.Fatal(err)
	}
	if err := steps(tw); err != nil {
		t.Fatal(err)
	}
	if err := tw.end(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("}")
	return buf.Bytes()
}

func TestTableWriterNeverWritesAnIDTwice(t *testing.T) {
	out := writeTable(t, func(tw *TableWriter) error {
		for _, step := range []func() error{
			func() error { return tw.Live("a", map[string]string{"id": "a", "v": "first"}) },
			func() error { return tw.Emit("a", map[string]string{"id": "a", "v": "second"}, KindLive) },
			func() error { return tw.Live("b", map[string]string{"id": "b"}) },
			func() error { return tw.Deleted("b") },
			func() error { return tw.Deleted("c") },
			func() error { return tw.Emit("c", nil, KindDeleted) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	var got map[string]pulledTable
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	n := got["notes"]
	if len(n.Created) != 0 || len(n.Updated) != 2 || n.Updated[0]["v"] != "first" || n.Updated[1]["id"] != "b" ||
		len(n.Deleted) != 1 || n.Deleted[0] != "c" {
		t.Fatalf("table %s", out)
	}
}

func TestTableWriterSendsEveryLiveRecordAsUpdated(t *testing.T) {
	t.Run("an empty table has three empty arrays", func(t *testing.T) {
		out := writeTable(t, func(*TableWriter) error { return nil })
		if want := `{"notes":{"created":[],"updated":[],"deleted":[]}}`; string(out) != want {
			t.Fatalf("got %s, want %s", out, want)
		}
	})
	t.Run("created is empty and comes before the live records", func(t *testing.T) {
		out := writeTable(t, func(tw *TableWriter) error {
			if err := tw.Deleted("x"); err != nil {
				return err
			}
			return tw.Live("a", map[string]string{"id": "a"})
		})
		if want := `{"notes":{"created":[],"updated":[{"id":"a"}],"deleted":["x"]}}`; string(out) != want {
			t.Fatalf("got %s, want %s", out, want)
		}
	})
}

// TestTableWriterStreamsLiveRecords checks that live records reach the underlying writer as they
// come rather than when the table ends: a big first sync is never one buffer.
func TestTableWriterStreamsLiveRecords(t *testing.T) {
	var sink bytes.Buffer
	bw := bufio.NewWriterSize(&sink, 4<<10)
	tw, err := newTableWriter(bw, "notes")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("x", 100)
	for i := range 1000 {
		id := string(rune('a'+i%26)) + strings.Repeat("-", i/26) // distinct ids
		if err := tw.Live(id, map[string]string{"id": id, "text": text}); err != nil {
			t.Fatal(err)
		}
	}
	// About 120 KB of records went through a 4 KB buffer: all but the last buffer's worth must
	// have been written through already, before end.
	if sink.Len() < 100<<10 {
		t.Fatalf("only %d bytes reached the writer before the table ended: live records are buffered", sink.Len())
	}
	if err := tw.end(); err != nil {
		t.Fatal(err)
	}
}
