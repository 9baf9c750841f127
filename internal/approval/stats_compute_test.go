package approval

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	for _, c := range []struct {
		xs     []float64
		p      float64
		want   float64
		absent bool
	}{
		{xs: nil, p: 0.5, absent: true},
		{xs: []float64{7}, p: 0.5, want: 7},
		{xs: []float64{4, 1, 3, 2}, p: 0.5, want: 2},
		{xs: []float64{5, 1, 3}, p: 0.5, want: 3},
		{xs: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, p: 0.9, want: 9},
		{xs: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, p: 0.9, want: 10},
		{xs: []float64{3, 1, 2}, p: 0.9, want: 3},
	} {
		got := percentile(append([]float64(nil), c.xs...), c.p)
		switch {
		case c.absent && got != nil:
			t.Errorf("%v p%v: %v, want absent", c.xs, c.p, *got)
		case !c.absent && (got == nil || *got != c.want):
			t.Errorf("%v p%v: %v, want %v", c.xs, c.p, got, c.want)
		}
	}
}

func TestCSVExportKeepsFormulasOut(t *testing.T) {
	st := computeStats(time.Time{}, time.Time{}, time.Time{}, []statRow{
		{flowCode: "=cmd()", flowName: "+x", nodeID: "n1", nodeName: "@boss", outcome: statPending},
	}, nil)
	var b bytes.Buffer
	if err := st.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "level,flow_code,") {
		t.Fatalf("csv: %q", b.String())
	}
	if want := "node,'=cmd(),'+x,n1,'@boss,1,1,0,0,0,0,,,,,0,0,0"; lines[2] != want {
		t.Errorf("node row %q, want %q", lines[2], want)
	}
}
