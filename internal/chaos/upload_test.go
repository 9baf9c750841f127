package chaos

import (
	"strings"
	"testing"
)

func TestCheckUploads(t *testing.T) {
	completed := []Upload{{"u1", 10, "aaaa"}, {"u2", 20, "bbbb"}}
	t.Run("passes when every completed upload is stored whole", func(t *testing.T) {
		g := CheckUploads(completed, map[string]Upload{"u1": completed[0], "u2": completed[1]})
		if !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
	})
	for _, c := range []struct {
		name   string
		stored map[string]Upload
		want   string
	}{
		{"fails when a completed upload is lost", map[string]Upload{"u1": completed[0]}, "u2 (20 bytes) completed but is not stored"},
		{"fails when an upload is stored truncated", map[string]Upload{"u1": completed[0], "u2": {"u2", 12, "bbbb"}}, "stored with 12 bytes"},
		{"fails when an upload is stored with other bytes", map[string]Upload{"u1": {"u1", 10, "cccc"}, "u2": completed[1]}, "other bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := CheckUploads(completed, c.stored)
			if g.Pass || !strings.Contains(g.Detail, c.want) {
				t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
			}
		})
	}
	t.Run("fails when no upload completed", func(t *testing.T) {
		if CheckUploads(nil, nil).Pass {
			t.Fatal("passed with nothing uploaded")
		}
	})
}
