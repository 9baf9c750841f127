package photometa

import (
	"bytes"
	"cmp"
	"slices"
)

// The sweep's bounds: how far past a TIFF header its EXIF block may reach (an APP1 segment
// holds 64 KiB; phones' EXIF items are a few KiB), and how many EXIF blocks it walks (each walk
// reads at most a few maxIFDs directories within the window), so that a hostile file full of
// TIFF headers costs milliseconds, not minutes. A TIFF header turns up by chance about once in
// a hundred 20 MiB photos.
const (
	sweepWindow    = 256 << 10
	maxSweptBlocks = 64
)

// tiffHeaders are the byte orders' TIFF headers; xmpStarts open XMP packets (the x:xapmeta
// wrapper is the old name, and rdf:RDF may stand alone).
var (
	tiffHeaders = [][]byte{[]byte("II*\x00"), []byte("MM\x00*")}
	xmpStarts   = [][]byte{[]byte("<x:xmpmeta"), []byte("<x:xapmeta"), []byte("<rdf:RDF")}
)

// sweep looks through the whole file for EXIF blocks and XMP packets that the format's
// structure did not lead to, and blanks their GPS as stripJPEG, stripPNG and stripHEIF do:
// images appended after a JPEG's end (multi-picture and Ultra HDR files carry a second JPEG
// with its own metadata), thumbnails, items stored in ways stripHEIF does not follow, and
// anything in an unknown format. Tools that search the bytes for metadata (go-exif's
// SearchAndExtractExif, exiftool's -ee, strings) would find those. A block or packet that
// cannot be parsed here is left alone: outside a known structure it is most likely not one.
// Blocks the structural pass handled are skipped: a block stored in pieces must not be read
// from its first piece on, and only directories that look like GPS ones are blanked here.
func (p *editor) sweep() {
	handled := mergeRanges(p.handled)
	walked := 0
	for _, h := range tiffHeaders {
		eachUnhandled(p.b, h, handled, func(at int) (int, bool) {
			if walked == maxSweptBlocks {
				return 0, false
			}
			end := min(at+sweepWindow, len(p.b))
			if blankEXIFBlock(p.b[at:end], true) == exifBlanked {
				p.blanked(at, end)
			}
			walked++
			return at + 1, true
		})
	}
	for _, s := range xmpStarts {
		eachUnhandled(p.b, s, handled, func(at int) (int, bool) {
			changed, _, n := blankXML(p.b[at:], true)
			if changed {
				p.blanked(at, at+n)
			}
			// What the parse read was one element and its content, or ended in an error: a
			// start found within it would read the same bytes again.
			return at + max(n, len(s)), true
		})
	}
}

// eachUnhandled calls fn at each occurrence of pat in b outside the handled ranges (sorted and
// disjoint), in order; fn says where to look on from, or false to stop.
func eachUnhandled(b, pat []byte, handled [][2]int, fn func(at int) (next int, more bool)) {
	for i := 0; i < len(b); {
		j := bytes.Index(b[i:], pat)
		if j < 0 {
			return
		}
		at := i + j
		if end, in := within(handled, at); in {
			i = end
			continue
		}
		next, more := fn(at)
		if !more {
			return
		}
		i = next
	}
}

// mergeRanges returns ranges sorted and merged into disjoint ones.
func mergeRanges(ranges [][2]int) [][2]int {
	sorted := slices.Clone(ranges)
	slices.SortFunc(sorted, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	var out [][2]int
	for _, r := range sorted {
		if n := len(out); n > 0 && r[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// within reports whether at lies in one of the disjoint sorted ranges, and where that ends.
func within(ranges [][2]int, at int) (int, bool) {
	i, _ := slices.BinarySearchFunc(ranges, at, func(r [2]int, at int) int {
		switch {
		case r[1] <= at:
			return -1
		case r[0] > at:
			return 1
		}
		return 0
	})
	if i < len(ranges) && ranges[i][0] <= at && at < ranges[i][1] {
		return ranges[i][1], true
	}
	return 0, false
}
