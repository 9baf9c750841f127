package analytics_test

import (
	"fmt"
	"testing"

	"github.com/mportal/mportal/internal/analytics"
)

func TestReachCountsDaysFromFirstSightToHalfAndNinetyPercent(t *testing.T) {
	day := func(d string, shares map[string]float64) analytics.AdoptionDay {
		ad := analytics.AdoptionDay{Day: d, Devices: 100}
		for _, b := range []string{"41", "42"} {
			if sh, ok := shares[b]; ok {
				ad.Builds = append(ad.Builds, analytics.BuildShare{Build: b, Devices: int(sh * 100), Share: sh})
			}
		}
		return ad
	}
	got := analytics.Reach([]analytics.AdoptionDay{
		day("2030-01-01", map[string]float64{"41": 1}),
		day("2030-01-02", map[string]float64{"41": 0.9, "42": 0.1}),
		day("2030-01-03", map[string]float64{"41": 0.6, "42": 0.4}),
		day("2030-01-05", map[string]float64{"41": 0.3, "42": 0.7}),
		day("2030-01-09", map[string]float64{"41": 0.05, "42": 0.95}),
	})
	want := "[{41 2030-01-01 0 0} {42 2030-01-02 3 7}]"
	if s := fmt.Sprint(deref(got)); s != want {
		t.Fatalf("Reach = %s, want %s", s, want)
	}
	one := analytics.Reach([]analytics.AdoptionDay{day("2030-01-01", map[string]float64{"42": 0.2})})
	if one[0].DaysTo50 != nil || one[0].DaysTo90 != nil {
		t.Fatalf("a build that never reached half: %+v", one[0])
	}
}

type reach struct {
	build, first string
	to50, to90   int
}

func deref(rs []analytics.BuildReach) []reach {
	out := make([]reach, len(rs))
	for i, r := range rs {
		out[i] = reach{r.Build, r.FirstSeen, -1, -1}
		if r.DaysTo50 != nil {
			out[i].to50 = *r.DaysTo50
		}
		if r.DaysTo90 != nil {
			out[i].to90 = *r.DaysTo90
		}
	}
	return out
}
