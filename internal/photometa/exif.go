package photometa

import (
	"cmp"
	"encoding/binary"
	"maps"
	"slices"
)

// TIFF tags that lead to location data.
const (
	tagGPSIFD  = 0x8825 // GPSInfo: the GPS directory's offset
	tagExifIFD = 0x8769 // ExifOffset: the Exif sub-directory's offset
	tagXMP     = 0x02bc // XMLPacket: XMP inside the EXIF block (TIFF and some HEIC writers)
)

// maxIFDs bounds the directories of each kind in one EXIF block: IFD0's chain (IFD1 is the
// thumbnail's), the Exif sub-directories, the GPS directories. Real files have one or two of
// each; a hostile chain may loop or go on for ever, and a hostile IFD0 may name thousands of
// GPS directories of 65535 entries each. A block with more is blanked whole instead: walking
// them would cost seconds.
const maxIFDs = 16

// headerLen is the TIFF header's length (byte order, 42, IFD0's offset). Blanking never writes
// into it, so a value that overlaps it cannot turn a block into one that reads differently.
const headerLen = 8

// exifBlock is an EXIF block: a TIFF structure whose offsets count from its first byte.
type exifBlock struct {
	b     []byte
	order binary.ByteOrder
	// found says the block was found by the sweep, not by a file's structure: it may be a
	// false match, or the first piece of a block stored in pieces (whose offsets then lead
	// into unrelated bytes), so only directories that look like GPS directories are blanked.
	found bool
}

// exifResult is what blankEXIF did.
type exifResult int

const (
	exifClean    exifResult = iota // nothing to blank (no GPS directory, or blanked before)
	exifBlanked                    // a GPS directory (or GPS in its XMP) was blanked
	exifCorrupt                    // the block cannot be walked: the caller blanks it whole
	exifNotFound                   // b does not start with a TIFF header (sweep candidates)
)

// blankEXIF blanks the GPS directories of the EXIF block b in place: the GPSInfo directory of
// IFD0 (the standard place) and, not standard but read by some tools, of IFD1 and the Exif
// directory; and the GPS properties of an XMP packet in IFD0's XMLPacket tag. Each GPS
// directory's entry table (count, entries, next offset) is zeroed, leaving an empty directory
// that the GPSInfo pointer still names, and so are the values its entries point to. Every other
// byte is kept, so Orientation, camera and dates stay valid. The result is exifCorrupt when the
// header or IFD0 cannot be read, or when it names more than maxIFDs Exif or GPS directories or
// XMP packets: GPS cannot be ruled out then (or not at a bounded cost).
func blankEXIF(b []byte) exifResult { return blankEXIFBlock(b, false) }

// blankEXIFBlock is blankEXIF, for a block the sweep found when found is set.
func blankEXIFBlock(b []byte, found bool) exifResult {
	if len(b) < headerLen {
		return exifNotFound
	}
	var x exifBlock
	switch string(b[:4]) {
	case "II*\x00":
		x = exifBlock{b: b, order: binary.LittleEndian, found: found}
	case "MM\x00*":
		x = exifBlock{b: b, order: binary.BigEndian, found: found}
	default:
		return exifNotFound
	}
	ifd0 := x.u32(4)
	if ifd0 == 0 {
		return exifClean // no directory at all
	}
	if ifd0 < headerLen || !x.has(int64(ifd0), 2) {
		return exifCorrupt
	}
	gps, exif, xmp := map[uint32]bool{}, map[uint32]bool{}, map[[2]int64]bool{}
	seen := map[uint32]bool{}
	walk := func(off uint32, top bool) {
		for i := 0; off >= headerLen && i < maxIFDs && !seen[off] && x.has(int64(off), 2); i++ {
			seen[off] = true
			for e := range x.entries(off) {
				tag, typ, count, field := x.entry(e)
				switch {
				case tag == tagGPSIFD:
					if p, ok := x.pointer(typ, field); ok {
						gps[p] = true
					}
				case tag == tagExifIFD && top:
					if p, ok := x.pointer(typ, field); ok {
						exif[p] = true
					}
				case tag == tagXMP && top:
					// A packet of 4 bytes or less (in the entry itself) holds no property.
					if start, n, ok := x.value(typ, count, field); ok && n > 4 && start >= headerLen {
						xmp[[2]int64{start, start + n}] = true
					}
				}
				if len(gps) > maxIFDs || len(exif) > maxIFDs || len(xmp) > maxIFDs {
					return
				}
			}
			if !top {
				return // a sub-directory's next offset means nothing
			}
			off = x.next(off)
		}
	}
	walk(ifd0, true)
	for _, off := range slices.Sorted(maps.Keys(exif)) {
		walk(off, false)
	}
	if len(gps) > maxIFDs || len(exif) > maxIFDs || len(xmp) > maxIFDs {
		return exifCorrupt
	}

	result := exifClean
	for _, off := range slices.Sorted(maps.Keys(gps)) {
		if x.blankIFD(off) {
			result = exifBlanked
		}
	}
	for _, r := range slices.SortedFunc(maps.Keys(xmp), func(a, b [2]int64) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) }) {
		switch blankXMP(b[r[0]:r[1]]) {
		case xmpBlanked:
			result = exifBlanked
		case xmpCorrupt:
			if zero(b[r[0]:r[1]]) {
				result = exifBlanked
			}
		}
	}
	return result
}

// blankIFD zeroes the directory at off, the values its entries point to, and its next offset,
// all clipped to the block and kept out of the header. It reports whether a byte changed.
func (x exifBlock) blankIFD(off uint32) bool {
	if !x.has(int64(off), 2) {
		return false // outside the block: no reader finds it here
	}
	if x.found && !x.looksLikeGPS(off) {
		return false
	}
	changed := false
	for e := range x.entries(off) {
		_, typ, count, field := x.entry(e)
		// A value that runs past the block's end is zeroed as far as it goes: a truncated
		// upload still holds the degrees and minutes of a latitude.
		if start, n, ok := x.value(typ, count, field); (ok || x.has(start, 1)) && n > 4 {
			changed = x.zero(start, start+n) || changed
		}
	}
	n := int64(x.order.Uint16(x.b[off:]))
	return x.zero(int64(off), int64(off)+2+12*n+4) || changed
}

// Bounds of a GPS directory as cameras write it: the EXIF 3.0 GPS tags are 0 to 31, each at
// most once; the longest values (GPSProcessingMethod, GPSAreaInformation) are short texts.
const (
	maxGPSTag       = 0x1f
	maxGPSEntries   = 2 * (maxGPSTag + 1)
	maxGPSValueSize = 64 << 10
)

// looksLikeGPS reports whether the directory at off is one a camera could have written as a
// GPS directory: a few entries, all in the block, with GPS tags, known types and short values.
func (x exifBlock) looksLikeGPS(off uint32) bool {
	n := int64(x.order.Uint16(x.b[off:]))
	if n == 0 || n > maxGPSEntries {
		return false // (a table cut by the block's end is judged by the entries it has)
	}
	for e := range x.entries(off) {
		tag, typ, count, _ := x.entry(e)
		if tag > maxGPSTag || int(typ) >= len(typeSizes) || typeSizes[typ] == 0 || typeSizes[typ]*int64(count) > maxGPSValueSize {
			return false
		}
	}
	return true
}

// zero zeroes b[start:end], clipped to the block and kept out of the header.
func (x exifBlock) zero(start, end int64) bool {
	start, end = max(start, headerLen), min(end, int64(len(x.b)))
	if start >= end {
		return false
	}
	return zero(x.b[start:end])
}

// has reports whether n bytes at off lie within the block.
func (x exifBlock) has(off, n int64) bool { return off >= 0 && n >= 0 && off+n <= int64(len(x.b)) }

func (x exifBlock) u32(off int64) uint32 { return x.order.Uint32(x.b[off:]) }

// entries returns the offsets of the directory at off's entries that lie wholly within the
// block (a count that runs past the end yields the readable ones).
func (x exifBlock) entries(off uint32) func(yield func(int64) bool) {
	return func(yield func(int64) bool) {
		n := int64(x.order.Uint16(x.b[off:]))
		for i := range n {
			e := int64(off) + 2 + 12*i
			if !x.has(e, 12) || !yield(e) {
				return
			}
		}
	}
}

// entry decodes the 12-byte directory entry at e; field is the offset of its value field.
func (x exifBlock) entry(e int64) (tag, typ uint16, count uint32, field int64) {
	return x.order.Uint16(x.b[e:]), x.order.Uint16(x.b[e+2:]), x.u32(e + 4), e + 8
}

// next returns the next-directory offset after the directory at off, or 0 when it lies
// outside the block.
func (x exifBlock) next(off uint32) uint32 {
	p := int64(off) + 2 + 12*int64(x.order.Uint16(x.b[off:]))
	if !x.has(p, 4) {
		return 0
	}
	return x.u32(p)
}

// pointer reads a sub-directory offset from a value field: a LONG or IFD value, or a SHORT one
// as some writers use. An offset of 0 names no directory, and one within the header is not a
// directory either (it would read the header as one).
func (x exifBlock) pointer(typ uint16, field int64) (uint32, bool) {
	var off uint32
	switch typ {
	case 4, 9, 13: // LONG, SLONG, IFD
		off = x.u32(field)
	case 3, 8: // SHORT, SSHORT
		off = uint32(x.order.Uint16(x.b[field:]))
	}
	return off, off >= headerLen
}

// typeSizes are the sizes of the TIFF field types 1 to 13; other types are unknown.
var typeSizes = [...]int64{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}

// value returns where an entry's value lies and its length: in the value field itself when it
// fits in 4 bytes, else at the offset the field holds. ok is false for an unknown type or a
// value not wholly within the block (no reader reads it then).
func (x exifBlock) value(typ uint16, count uint32, field int64) (start, n int64, ok bool) {
	if int(typ) >= len(typeSizes) || typeSizes[typ] == 0 {
		return 0, 0, false
	}
	n = typeSizes[typ] * int64(count)
	if n <= 4 {
		return field, n, true
	}
	start = int64(x.u32(field))
	return start, n, x.has(start, n)
}
