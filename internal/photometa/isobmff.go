package photometa

import (
	"bytes"
	"encoding/binary"
)

// This file reads the ISO-BMFF structures stripHEIF needs (ISO/IEC 14496-12 and 23008-12):
// boxes, item info entries and item locations, through a reader that never reads past its box.

// readInfe reads an item info entry (a full box) into its item.
func readInfe(r *reader, item func(uint32) *heifItem) {
	version := r.u8()
	r.skip(3)
	var id uint32
	switch {
	case version < 2: // item_ID, protection, name, content type, encoding: always a mime-like item
		id = uint32(r.u16())
		r.skip(2)
		r.cstring()
		it := item(id)
		it.typ, it.contentType, it.encoding = "mime", r.cstring(), r.cstring()
		return
	case version == 2:
		id = uint32(r.u16())
	default:
		id = r.u32()
	}
	r.skip(2)
	typ := string(r.bytes(4))
	if r.bad {
		return
	}
	it := item(id)
	it.typ = typ
	if typ == "mime" {
		r.cstring()
		it.contentType = r.cstring()
		it.encoding = r.cstring()
	}
}

// readIloc reads an item location box (a full box) into the items.
func readIloc(r *reader, item func(uint32) *heifItem) {
	version := r.u8()
	r.skip(3)
	sizes := r.u16()
	offsetSize, lengthSize, baseSize, indexSize := int(sizes>>12), int(sizes>>8&0xf), int(sizes>>4&0xf), int(sizes&0xf)
	if version == 0 {
		indexSize = 0
	}
	for _, s := range []int{offsetSize, lengthSize, baseSize, indexSize} {
		if s != 0 && s != 4 && s != 8 {
			return
		}
	}
	var count uint32
	if version < 2 {
		count = uint32(r.u16())
	} else {
		count = r.u32()
	}
	extents := 0
	for range count {
		var id uint32
		if version < 2 {
			id = uint32(r.u16())
		} else {
			id = r.u32()
		}
		var method uint16
		if version == 1 || version == 2 {
			method = r.u16() & 0xf
		}
		dataRef, base, n := r.u16(), r.uint(baseSize), int(r.u16())
		var ext [][2]uint64
		for range n {
			if extents++; extents > maxExtents || r.bad {
				return
			}
			r.uint(indexSize)
			ext = append(ext, [2]uint64{r.uint(offsetSize), r.uint(lengthSize)})
		}
		if r.bad {
			return
		}
		it := item(id)
		it.located, it.method, it.dataRef, it.base, it.extents = true, method, dataRef, base, ext
	}
}

// isoBox is an ISO-BMFF box: its type and its payload [start, end).
type isoBox struct {
	typ        string
	start, end int64
}

// isoBoxes returns an iterator over the boxes in b[from:to]. A box that runs past to is
// yielded cut at to and ends the walk, as does a header that cannot be read.
func isoBoxes(b []byte, from, to int64) func(yield func(isoBox) bool) {
	return func(yield func(isoBox) bool) {
		for i := from; i+8 <= to; {
			size := uint64(binary.BigEndian.Uint32(b[i:]))
			hdr := int64(8)
			switch size {
			case 0: // to the end of the container
				size = uint64(to - i)
			case 1:
				if i+16 > to {
					return
				}
				size, hdr = binary.BigEndian.Uint64(b[i+8:]), 16
			}
			if size < uint64(hdr) {
				return
			}
			end, whole := to, size <= uint64(to-i)
			if whole {
				end = i + int64(size)
			}
			if !yield(isoBox{typ: string(b[i+4 : i+8]), start: i + hdr, end: end}) || !whole {
				return
			}
			i = end
		}
	}
}

// reader reads big-endian fields from b[i:end]; a read past end sets bad and returns zeros.
type reader struct {
	b      []byte
	i, end int64
	bad    bool
}

func (r *reader) bytes(n int64) []byte {
	if r.bad || n < 0 || n > r.end-r.i {
		r.bad = true
		return make([]byte, max(n, 0))
	}
	r.i += n
	return r.b[r.i-n : r.i]
}

func (r *reader) skip(n int64) { r.bytes(n) }
func (r *reader) u8() uint8    { return r.bytes(1)[0] }
func (r *reader) u16() uint16  { return binary.BigEndian.Uint16(r.bytes(2)) }
func (r *reader) u32() uint32  { return binary.BigEndian.Uint32(r.bytes(4)) }

// uint reads an unsigned field of size 0, 4 or 8 bytes (0 reads nothing and is 0).
func (r *reader) uint(size int) uint64 {
	switch size {
	case 4:
		return uint64(r.u32())
	case 8:
		return binary.BigEndian.Uint64(r.bytes(8))
	}
	return 0
}

// cstring reads a NUL-terminated string; a missing NUL reads to the end (as the last string
// of a box may be written).
func (r *reader) cstring() string {
	if r.bad {
		return ""
	}
	rest := r.b[r.i:r.end]
	s, _, found := bytes.Cut(rest, []byte{0})
	r.i += int64(len(s))
	if found {
		r.i++
	}
	return string(s)
}
