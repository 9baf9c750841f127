package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	t.Run("gives every value below 256 ns its own bucket", func(t *testing.T) {
		var h histogram
		for v := range 100 {
			h.record(time.Duration(v + 1))
		}
		for _, c := range []struct {
			q    float64
			want time.Duration
		}{{0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}} {
			if got := h.quantile(c.q); got != c.want {
				t.Errorf("quantile(%v) = %d, want %d", c.q, got, c.want)
			}
		}
	})
	t.Run("tiles the range with contiguous buckets", func(t *testing.T) {
		for i := range histBuckets - 1 {
			upper := bucketUpper(i)
			if bucketOf(upper) != i || bucketOf(upper+1) != i+1 {
				t.Fatalf("bucket %d ends at %d: bucketOf gives %d, and %d for the next value", i, upper, bucketOf(upper), bucketOf(upper+1))
			}
		}
		if bucketUpper(histBuckets-1) != histMaxNs {
			t.Fatalf("last bucket ends at %d, want %d", bucketUpper(histBuckets-1), histMaxNs)
		}
	})
	t.Run("stays within 1 % of the exact quantiles of a sorted sample", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		var h, other histogram
		sample := make([]time.Duration, 0, 100_000)
		for i := range cap(sample) {
			// log-uniform from 10 µs to 1 s, like latencies
			v := time.Duration(10_000 * math.Exp2(rng.Float64()*17))
			sample = append(sample, v)
			if i%2 == 0 { // two workers' histograms, merged
				h.record(v)
			} else {
				other.record(v)
			}
		}
		h.merge(&other)
		slices.Sort(sample)
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
			exact := sample[int(math.Ceil(q*float64(len(sample))))-1]
			got := h.quantile(q)
			if got < exact || float64(got-exact) > float64(exact)/128 {
				t.Errorf("quantile(%v) = %s, exact %s", q, got, exact)
			}
		}
		if h.max != sample[len(sample)-1] || h.quantile(1) != h.max {
			t.Errorf("max %s, quantile(1) %s, want %s", h.max, h.quantile(1), sample[len(sample)-1])
		}
	})
	t.Run("reports zero when empty and clamps values beyond its range", func(t *testing.T) {
		var h histogram
		if h.quantile(0.99) != 0 {
			t.Fatal("empty histogram has a p99")
		}
		h.record(time.Hour)
		if h.quantile(0.5) != time.Duration(histMaxNs) || h.max != time.Hour {
			t.Fatalf("p50 %s max %s", h.quantile(0.5), h.max)
		}
	})
}
