package chaos

import (
	"strings"
	"testing"
)

func TestCheckOneDecision(t *testing.T) {
	seen := []Decision{{"t1", "approve", "T1"}, {"t1", "approve", "T1"}, {"t2", "reject", "T2"}}
	t.Run("passes when every answer about a task names one decision", func(t *testing.T) {
		if g := CheckOneDecision([]string{"t1", "t2", "t3"}, seen); !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
	})
	t.Run("fails when a task was decided twice", func(t *testing.T) {
		g := CheckOneDecision([]string{"t1", "t2"}, append(seen, Decision{"t1", "reject", "T9"}))
		if g.Pass || !strings.Contains(g.Detail, "t1 has two decisions") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("fails when nothing was decided", func(t *testing.T) {
		if CheckOneDecision([]string{"t1"}, nil).Pass {
			t.Fatal("passed with no decision")
		}
	})
}

func TestCheckCallbacks(t *testing.T) {
	seen := []Decision{{"t1", "approve", "T1"}, {"t2", "reject", "T2"}}
	ok := []Callback{{WebhookID: "w1", Task: "t1", Action: "approve", DecidedAt: "T1", SignatureOK: true},
		{WebhookID: "w2", Task: "t2", Action: "reject", DecidedAt: "T2", SignatureOK: true}}
	t.Run("passes when each decision was called back once", func(t *testing.T) {
		if g := CheckCallbacks(seen, ok); !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
	})
	t.Run("counts a redelivered webhook-id without failing", func(t *testing.T) {
		g := CheckCallbacks(seen, append(ok, ok[0]))
		if !g.Pass || !strings.Contains(g.Detail, "1 redelivered") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	for _, c := range []struct {
		name      string
		callbacks []Callback
		want      string
	}{
		{"fails when a decision was never called back", ok[:1], "no callback for the decision of t2"},
		{"fails when a decision was called back twice under two webhook-ids", append(ok,
			Callback{WebhookID: "w3", Task: "t1", Action: "approve", DecidedAt: "T1", SignatureOK: true}), "under 2 webhook-ids"},
		{"fails when a callback carries another decision", []Callback{ok[0],
			{WebhookID: "w2", Task: "t2", Action: "approve", DecidedAt: "T2", SignatureOK: true}}, "carries approve"},
		{"fails when a callback is unsigned", append(ok, Callback{WebhookID: "w9", Task: "t1", Action: "approve", DecidedAt: "T1"}), "no valid signature"},
		{"fails when a callback names an undecided task", append(ok,
			Callback{WebhookID: "w4", Task: "t4", Action: "approve", DecidedAt: "T4", SignatureOK: true}), "no device saw decided"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := CheckCallbacks(seen, c.callbacks)
			if g.Pass || !strings.Contains(g.Detail, c.want) {
				t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
			}
		})
	}
}
