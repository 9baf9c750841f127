package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// histogram records latencies in log-linear buckets, as HDR histograms do: values below 256 ns
// are exact, larger ones fall into one of 128 buckets per power of two, so a reported quantile is
// within 1/128 (0.8 %) of the true one. Its size is fixed (about 35 KiB) however long the run,
// which a sorted sample of every latency is not. It is not safe for concurrent use: each worker
// keeps its own and they are merged at the end.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    time.Duration
}

const (
	histSubBits = 7                               // 2^7 = 128 buckets per power of two
	histSub     = 1 << histSubBits                // 128
	histExact   = 2 * histSub                     // values below 256 ns get a bucket each
	histMaxBits = 40                              // values up to 2^40 ns (18 minutes); longer ones are clamped
	histGroups  = histMaxBits - (histSubBits + 1) // powers of two above the exact range
	histBuckets = histExact + histGroups*histSub
	histMaxNs   = uint64(1)<<histMaxBits - 1 // the largest value with its own bucket
)

// bucketOf returns the bucket index of v nanoseconds.
func bucketOf(v uint64) int {
	if v < histExact {
		return int(v)
	}
	v = min(v, histMaxNs)
	shift := bits.Len64(v) - (histSubBits + 1) // >= 1; keeps 8 significant bits
	mantissa := v >> shift                     // in [128, 256)
	return histExact + (shift-1)*histSub + int(mantissa-histSub)
}

// bucketUpper returns the largest value that falls into bucket i.
func bucketUpper(i int) uint64 {
	if i < histExact {
		return uint64(i)
	}
	i -= histExact
	shift := i/histSub + 1
	mantissa := uint64(i%histSub + histSub)
	return (mantissa+1)<<shift - 1
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	h.total++
	h.max = max(h.max, d)
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns the latency at or below which a fraction q (0..1] of the recorded values lie:
// the upper bound of the bucket holding that rank, never more than the largest value seen. It is
// zero when nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(time.Duration(bucketUpper(i)), h.max)
		}
	}
	return h.max
}
