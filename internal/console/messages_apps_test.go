package console

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestAppsScreensSpeakBothLanguages checks that every message the apps screens name exists in
// zh-CN and en, so no screen shows a bare key.
func TestAppsScreensSpeakBothLanguages(t *testing.T) {
	key := regexp.MustCompile(`\(?t \$l "([a-z_]+)"`)
	names, err := fs.Glob(templateFS, "templates/apps*.html")
	if err != nil || len(names) == 0 {
		t.Fatalf("no apps templates (%v)", err)
	}
	// Keys built at run time: release states, member sources, confirmations.
	used := []string{"state_active", "state_halted", "state_completed", "source_invite", "source_self",
		"confirm_publish", "confirm_raise", "confirm_halt", "confirm_resume", "confirm_complete",
		"who_publish", "who_raise", "who_halt", "who_resume", "who_complete", "channel_size", "channel_everyone"}
	for _, name := range names {
		b, err := fs.ReadFile(templateFS, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1])
		}
	}
	for _, k := range used {
		for _, loc := range []string{"zh-CN", "en"} {
			if strings.TrimSpace(messages[k][loc]) == "" {
				t.Errorf("message %q has no %s text", k, loc)
			}
		}
	}
}

func TestReachedRoundsTheExpectedShare(t *testing.T) {
	for _, c := range []struct {
		users   int
		percent float64
		want    int
	}{{3, 20, 1}, {3, 50, 2}, {0, 50, 0}, {1000, 0.5, 5}, {7, 100, 7}} {
		if got := Reached(c.users, c.percent); got != c.want {
			t.Errorf("Reached(%d, %g) = %d, want %d", c.users, c.percent, got, c.want)
		}
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{973: "973 B", 1536: "1.5 KiB", 20 << 20: "20.0 MiB", 4 << 30: "4.0 GiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
