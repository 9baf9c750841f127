package photometa

import (
	"encoding/binary"
	"maps"
	"slices"
)

// maxExtents bounds the extents read from one iloc box: real photos have a few per item, and
// an extent with offset and length sizes of 0 takes no bytes, so the count alone bounds the walk.
const maxExtents = 1 << 16

// heifItem is what stripHEIF needs of an item: its type (and content type and encoding, for
// mime items) from iinf, and where its data is from iloc.
type heifItem struct {
	typ, contentType, encoding string
	located                    bool
	method                     uint16 // construction method: 0 file offsets, 1 idat, 2 another item
	dataRef                    uint16 // 0: this file
	base                       uint64
	extents                    [][2]uint64 // offset, length (0: to the end of the container)
}

// stripHEIF blanks the Exif items and XMP items (mime, application/rdf+xml) of an ISO-BMFF
// file's top-level meta box: HEIC (HEIF with HEVC), and AVIF alike. An item's data may be in
// several extents, in the file or in the meta box's idat: they are read in order as one block,
// blanked, and written back. An Exif item's data starts with the offset of its TIFF header
// (ISO/IEC 23008-12, annex A). Compressed XMP (a content encoding) is dropped. Items stored
// elsewhere (another file, or built from another item, which libheif does not read either) are
// left to the sweep.
func (p *editor) stripHEIF() {
	for top := range isoBoxes(p.b, 0, int64(len(p.b))) {
		if top.typ == "meta" {
			p.heifMeta(top.start+4, top.end) // a full box: version and flags first
		}
	}
}

// heifMeta reads the meta box whose children lie in [start, end) and blanks its metadata items.
func (p *editor) heifMeta(start, end int64) {
	items := map[uint32]*heifItem{}
	item := func(id uint32) *heifItem {
		if items[id] == nil {
			items[id] = &heifItem{}
		}
		return items[id]
	}
	idat := [2]int64{-1, -1}
	for b := range isoBoxes(p.b, start, end) {
		r := &reader{b: p.b, i: b.start, end: b.end}
		switch b.typ {
		case "iinf":
			version := r.u8()
			r.skip(3)
			if version == 0 {
				r.skip(2)
			} else {
				r.skip(4)
			}
			if r.bad {
				continue
			}
			for infe := range isoBoxes(p.b, r.i, b.end) {
				if infe.typ == "infe" {
					readInfe(&reader{b: p.b, i: infe.start, end: infe.end}, item)
				}
			}
		case "iloc":
			readIloc(r, item)
		case "idat":
			idat = [2]int64{b.start, b.end}
		}
	}
	// Items may share extents: reading each whole, a hostile file could have thousands of items
	// claim all of it. The items read together are bounded by the file's size; the sweep looks
	// at the rest.
	budget := int64(len(p.b))
	for _, id := range slices.Sorted(maps.Keys(items)) {
		it := items[id]
		exif, xmp := it.typ == "Exif", it.typ == "mime" && it.contentType == "application/rdf+xml"
		if !it.located || !exif && !xmp {
			continue
		}
		pieces, ok := p.pieces(it, idat)
		if !ok {
			continue
		}
		for _, c := range pieces {
			budget -= c[1] - c[0]
		}
		if budget < 0 {
			return
		}
		p.handlePieces(pieces)
		if exif {
			p.heifExif(pieces)
		} else {
			p.heifXMP(it, pieces)
		}
	}
}

// pieces returns where an item's data lies in the file, extent by extent, or false when it is
// not in this file where a reader would look. An extent that runs past the end of its
// container (a truncated file) is taken as far as it goes.
func (p *editor) pieces(it *heifItem, idat [2]int64) ([][2]int64, bool) {
	if it.dataRef != 0 || len(it.extents) == 0 {
		return nil, false
	}
	var lo, hi int64 // the container the offsets count in
	switch it.method {
	case 0:
		lo, hi = 0, int64(len(p.b))
	case 1:
		if idat[0] < 0 {
			return nil, false
		}
		lo, hi = idat[0], idat[1]
	default:
		return nil, false
	}
	var out [][2]int64
	total := int64(0)
	for _, e := range it.extents {
		off := it.base + e[0]
		if off < it.base || off > uint64(hi-lo) {
			return nil, false
		}
		start := lo + int64(off)
		end := hi
		if e[1] != 0 && e[1] < uint64(hi-start) {
			end = start + int64(e[1])
		}
		if total += end - start; total > int64(len(p.b)) {
			return nil, false // overlapping extents claiming more than the file
		}
		out = append(out, [2]int64{start, end})
	}
	return out, true
}

// gather copies an item's pieces into one block.
func (p *editor) gather(pieces [][2]int64) []byte {
	var buf []byte
	for _, c := range pieces {
		buf = append(buf, p.b[c[0]:c[1]]...)
	}
	return buf
}

// scatter writes a blanked block back into its pieces and counts it blanked.
func (p *editor) scatter(pieces [][2]int64, buf []byte) {
	for _, c := range pieces {
		buf = buf[copy(p.b[c[0]:c[1]], buf):]
		p.dirty = append(p.dirty, [2]int{int(c[0]), int(c[1])})
	}
	p.report.Blanked++
}

// handlePieces records an item's pieces as handled.
func (p *editor) handlePieces(pieces [][2]int64) {
	for _, c := range pieces {
		p.handle(int(c[0]), int(c[1]))
	}
}

// dropPieces zeroes an item's data, counting it when anything changed.
func (p *editor) dropPieces(pieces [][2]int64) {
	changed := false
	for _, c := range pieces {
		changed = zero(p.b[c[0]:c[1]]) || changed
	}
	if changed {
		p.report.Dropped++
	}
}

// heifExif blanks an Exif item: a 4-byte offset of the TIFF header (counted after it), then
// usually "Exif\0\0", then the EXIF block.
func (p *editor) heifExif(pieces [][2]int64) {
	buf := p.gather(pieces)
	result := exifCorrupt
	if len(buf) >= 4 {
		if off := uint64(binary.BigEndian.Uint32(buf)); off <= uint64(len(buf)-4) {
			result = blankEXIF(buf[4+off:])
		}
	}
	switch result {
	case exifBlanked:
		p.scatter(pieces, buf)
	case exifCorrupt, exifNotFound:
		p.dropPieces(pieces)
	}
}

// heifXMP blanks an XMP item; one with a content encoding (deflate) is dropped.
func (p *editor) heifXMP(it *heifItem, pieces [][2]int64) {
	if it.encoding != "" {
		p.dropPieces(pieces)
		return
	}
	buf := p.gather(pieces)
	switch blankXMP(buf) {
	case xmpBlanked:
		p.scatter(pieces, buf)
	case xmpCorrupt:
		p.dropPieces(pieces)
	}
}
