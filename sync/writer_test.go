package datasync

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
)

func TestTableWriterNeverWritesAnIDTwice(t *testing.T) {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	buf.WriteString("{")
	tw, err := newTableWriter(bw, "notes")
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return tw.Updated("a", map[string]string{"id": "a", "v": "first"}) },
		func() error { return tw.Created("a", map[string]string{"id": "a", "v": "second"}) },
		func() error { return tw.Created("b", map[string]string{"id": "b"}) },
		func() error { return tw.Deleted("b") },
		func() error { return tw.Deleted("c") },
		func() error { return tw.Deleted("c") },
		tw.end,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("}")
	var got map[string]pulledTable
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, buf.String())
	}
	n := got["notes"]
	if len(n.Created) != 1 || n.Created[0]["id"] != "b" || len(n.Updated) != 1 || n.Updated[0]["v"] != "first" ||
		len(n.Deleted) != 1 || n.Deleted[0] != "c" {
		t.Fatalf("table %+v", n)
	}
}
