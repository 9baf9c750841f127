package chaos

import "fmt"

// Decision is a decision as a device saw it: from a 2xx answer to its decide request, or the
// winning decision a 409 already_decided carried.
type Decision struct{ Task, Action, DecidedAt string }

// Callback is one decision callback the fake OA received.
type Callback struct {
	WebhookID              string
	Task, Action           string
	DecidedAt              string
	SignatureOK, Malformed bool
}

// CheckOneDecision checks that every task the devices saw decided has exactly one decision:
// every answer about it (2xx or the 409's winner) names the same action and time.
func CheckOneDecision(tasks []string, seen []Decision) Guarantee {
	first := map[string]Decision{}
	var v violations
	for _, d := range seen {
		f, ok := first[d.Task]
		switch {
		case !ok:
			first[d.Task] = d
		case f != d:
			v.addf("%s has two decisions: %s at %s and %s at %s", d.Task, f.Action, f.DecidedAt, d.Action, d.DecidedAt)
		}
	}
	return Guarantee{
		Name:   "each approval task has exactly one decision (two devices race to decide it)",
		Pass:   v.n == 0 && len(first) > 0,
		Detail: v.detail(fmt.Sprintf("%d tasks sent by the fake OA, %d decided, %d answers", len(tasks), len(first), len(seen))),
	}
}

// CheckCallbacks checks that the fake OA got each decision's callback, signed, carrying that
// decision, under one webhook-id per task, and no callback for a decision no device saw. A
// webhook-id delivered again (at-least-once delivery; the OA applies a webhook-id once) is
// counted, and fails the check only when it carries another decision.
func CheckCallbacks(seen []Decision, callbacks []Callback) Guarantee {
	decided := map[string]Decision{}
	for _, d := range seen {
		decided[d.Task] = d
	}
	ids := map[string]map[string]bool{} // task -> webhook-ids
	got := map[string]int{}
	var v violations
	redelivered := 0
	for _, c := range callbacks {
		switch {
		case !c.SignatureOK:
			v.addf("callback %s has no valid signature", c.WebhookID)
			continue
		case c.Malformed:
			v.addf("callback %s is not a decision", c.WebhookID)
			continue
		}
		d, ok := decided[c.Task]
		if !ok {
			v.addf("callback for %s, which no device saw decided", c.Task)
			continue
		}
		if d.Action != c.Action || d.DecidedAt != c.DecidedAt {
			v.addf("callback for %s carries %s at %s, the decision is %s at %s", c.Task, c.Action, c.DecidedAt, d.Action, d.DecidedAt)
		}
		if ids[c.Task] == nil {
			ids[c.Task] = map[string]bool{}
		}
		if ids[c.Task][c.WebhookID] {
			redelivered++
		}
		ids[c.Task][c.WebhookID] = true
		got[c.Task]++
	}
	for _, task := range sortedKeys(decided) {
		switch {
		case got[task] == 0:
			v.addf("no callback for the decision of %s", task)
		case len(ids[task]) > 1:
			v.addf("%s's decision was called back under %d webhook-ids", task, len(ids[task]))
		}
	}
	return Guarantee{
		Name: "each decision was called back to the fake OA, signed, once per webhook-id",
		Pass: v.n == 0 && len(decided) > 0,
		Detail: v.detail(fmt.Sprintf("%d decisions, %d callbacks (%d redelivered webhook-ids, applied once by the OA)",
			len(decided), len(callbacks), redelivered)),
	}
}
