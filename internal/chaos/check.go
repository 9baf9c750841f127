// Package chaos is the fault rig's checker: it takes what the load recorded (writes a client got a
// 2xx for, what each simulated device pulled, the fake FCM's deliveries, the answers during
// outages) and decides, guarantee by guarantee, whether the deployment kept its promises. It
// holds no processes and no clients, so it is tested with deliberately broken records.
package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Guarantee is one row of the rig's final table.
type Guarantee struct {
	Name   string // what is promised, in a sentence
	Pass   bool   // whether the records show it held
	Detail string // counts, and the first violations when it failed
}

// Report is the rig's verdict: every guarantee checked, in a fixed order.
type Report struct{ Guarantees []Guarantee }

// Add appends g to the report.
func (r *Report) Add(g Guarantee) { r.Guarantees = append(r.Guarantees, g) }

// Failed returns the guarantees that failed: the rig exits non-zero when there is any.
func (r *Report) Failed() []Guarantee {
	var out []Guarantee
	for _, g := range r.Guarantees {
		if !g.Pass {
			out = append(out, g)
		}
	}
	return out
}

// Print writes the report as an aligned table.
func (r *Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tGUARANTEE\tDETAIL")
	for _, g := range r.Guarantees {
		result := "PASS"
		if !g.Pass {
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", result, g.Name, g.Detail)
	}
	tw.Flush()
}

// violations keeps the first few problems found and counts them all.
type violations struct {
	n     int
	first []string
}

func (v *violations) addf(format string, args ...any) {
	v.n++
	if len(v.first) < 5 {
		v.first = append(v.first, fmt.Sprintf(format, args...))
	}
}

func (v *violations) detail(ok string) string {
	if v.n == 0 {
		return ok
	}
	return fmt.Sprintf("%d violations: %s", v.n, strings.Join(v.first, "; "))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
