package main

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/chaos"
)

// The rig's own collection: a pull's answer as the server sends it becomes what the sync check
// judges; a record the answer names twice, or a checked table's change, is not lost on the way.
func TestPullOf(t *testing.T) {
	var out pullResp
	body := `{"changes":{
		"feedback":{"created":[],"updated":[{"id":"C1001-a-1","text":"v1"},{"id":"C1001-a-1","text":"v1"},{"id":"C1001-u0-1","text":"photo"}],"deleted":["C1001-a-2"]},
		"feedback_attachments":{"created":[],"updated":[{"id":"C1001-u0-1-p","status":"complete"}],"deleted":[]},
		"feedback_comments":{"created":[],"updated":[{"id":"x","body":"ignored"}],"deleted":[]}},
		"timestamp":42}`
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	p := pullOf(out)
	if got := p.Updated["feedback"]; got["C1001-a-1"] != "v1" || got["C1001-u0-1"] != "photo" || len(got) != 2 {
		t.Errorf("feedback updated: %v", got)
	}
	if !slices.Equal(p.Repeated["feedback"], []string{"C1001-a-1"}) {
		t.Errorf("repeated: %v, want the id sent twice", p.Repeated)
	}
	if !slices.Equal(p.Deleted["feedback"], []string{"C1001-a-2"}) {
		t.Errorf("deleted: %v", p.Deleted)
	}
	if got := p.Updated["feedback_attachments"]["C1001-u0-1-p"]; got != "complete" {
		t.Errorf("attachment status %q, want complete", got)
	}
	if _, ok := p.Updated["feedback_comments"]; ok {
		t.Errorf("an unchecked table was kept: %v", p.Updated)
	}
	if !changed(p) || changed(pullOf(pullResp{})) {
		t.Errorf("changed: %v for a pull with records, %v for an empty one", changed(p), changed(pullOf(pullResp{})))
	}
	// and the checker fails a device whose pulls the collection took in: the repeat is reported
	g := chaos.CheckSync(nil, []chaos.DeviceLog{{Device: "C1001-a", Pulls: []chaos.Pull{p}}})
	if g.Pass {
		t.Errorf("a pull that named a record twice passed: %s", g.Detail)
	}
}

func TestUserOf(t *testing.T) {
	for _, tc := range []struct{ table, id, want string }{
		{"feedback", "C1001-a-17", "C1001"},
		{"feedback", "C1001-u0-3", "C1001"},
		{"feedback_attachments", "C1001-u0-3-p", "C1001"},
		{"feedback", "nodash", ""},
	} {
		if got := userOf(tc.table, tc.id); got != tc.want {
			t.Errorf("userOf(%s, %s) = %q, want %q", tc.table, tc.id, got, tc.want)
		}
	}
}
