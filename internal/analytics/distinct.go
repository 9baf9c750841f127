package analytics

import (
	"math/bits"

	"github.com/RoaringBitmap/roaring/v2"
)

// dense reports whether the bitmaps are mostly bitmap containers (more than 1 in 16 of the
// numbers below their maximum set, Roaring's own threshold): OR-ing those is word-parallel and
// fastest; sparse ones (array containers: a department, a screen) are faster to visit.
func dense(bms []*roaring.Bitmap) (top uint32, isDense bool) {
	var sum uint64
	for _, b := range bms {
		if !b.IsEmpty() {
			top = max(top, b.Maximum())
			sum += b.GetCardinality()
		}
	}
	return top, len(bms) > 0 && sum/uint64(len(bms))*16 > uint64(top)+1
}

// distinct counts the numbers in the union of bms exactly. Sparse bitmaps are visited into a
// flat bitset (2.5 KiB per 20,000 numbers) instead of building a union of array containers.
func distinct(bms []*roaring.Bitmap) int {
	top, isDense := dense(bms)
	if isDense {
		return int(roaring.FastOr(bms...).GetCardinality())
	}
	set := make([]uint64, top/64+1)
	buf := make([]uint32, 256)
	for _, b := range bms {
		it := b.ManyIterator()
		for n := it.NextMany(buf); n > 0; n = it.NextMany(buf) {
			for _, x := range buf[:n] {
				set[x>>6] |= 1 << (x & 63)
			}
		}
	}
	n := 0
	for _, w := range set {
		n += bits.OnesCount64(w)
	}
	return n
}

// windowed returns, for each i >= w-1, the distinct count of days[i-w+1..i]: a sliding window
// that counts how many of its days each number appears on, so that each day's numbers are
// visited twice (entering and leaving) instead of once per window that holds the day.
func windowed(days []*roaring.Bitmap, w int) []int {
	top, isDense := dense(days)
	if isDense {
		out := make([]int, len(days))
		for i := range days {
			out[i] = int(roaring.FastOr(days[max(0, i-w+1) : i+1]...).GetCardinality())
		}
		return out
	}
	counts := make([]uint16, top+1)
	out := make([]int, len(days))
	live := 0
	buf := make([]uint32, 256)
	visit := func(b *roaring.Bitmap, fn func(x uint32)) {
		it := b.ManyIterator()
		for n := it.NextMany(buf); n > 0; n = it.NextMany(buf) {
			for _, x := range buf[:n] {
				fn(x)
			}
		}
	}
	for i, b := range days {
		visit(b, func(x uint32) {
			if counts[x] == 0 {
				live++
			}
			counts[x]++
		})
		if i >= w {
			visit(days[i-w], func(x uint32) {
				counts[x]--
				if counts[x] == 0 {
					live--
				}
			})
		}
		out[i] = live
	}
	return out
}
