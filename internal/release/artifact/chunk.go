package artifact

import (
	"encoding/binary"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// Android's binary resource formats (AndroidManifest.xml, resources.arsc) are trees of chunks,
// each starting with {uint16 type, uint16 headerSize, uint32 size}, little-endian
// (frameworks/base/libs/androidfw/include/androidfw/ResourceTypes.h). Everything below reads
// them with explicit bounds checks: a count or offset read from the file is checked against
// the bytes actually present before it is used, and nothing is allocated from a count.

// Chunk types used here.
const (
	chunkStringPool   = 0x0001
	chunkTable        = 0x0002
	chunkXML          = 0x0003
	chunkXMLStartElem = 0x0102
	chunkXMLEndElem   = 0x0103
	chunkXMLResMap    = 0x0180
	chunkTablePackage = 0x0200
	chunkTableType    = 0x0201
)

// errMalformed is the cause of every structural failure; callers turn it into an
// *apperr.Error naming the file.
var errMalformed = errors.New("malformed binary resource")

// chunk is one chunk: its type, and its bytes split into header and body.
type chunk struct {
	typ    uint16
	header []byte // includes the 8-byte common header
	data   []byte // the whole chunk, header included
}

// readChunk returns the chunk at the start of b, checking that its sizes fit in b.
func readChunk(b []byte) (chunk, error) {
	if len(b) < 8 {
		return chunk{}, errMalformed
	}
	typ := binary.LittleEndian.Uint16(b)
	headerSize := int(binary.LittleEndian.Uint16(b[2:]))
	size := int64(binary.LittleEndian.Uint32(b[4:]))
	if headerSize < 8 || int64(headerSize) > size || size > int64(len(b)) {
		return chunk{}, errMalformed
	}
	return chunk{typ: typ, header: b[:headerSize], data: b[:size]}, nil
}

// children calls fn for each chunk in the body of c, in order. Every chunk is at least 8
// bytes long, so the walk always advances and ends.
func (c chunk) children(fn func(chunk) error) error {
	for rest := c.data[len(c.header):]; len(rest) > 0; {
		child, err := readChunk(rest)
		if err != nil {
			return err
		}
		if err := fn(child); err != nil {
			return err
		}
		rest = rest[len(child.data):]
	}
	return nil
}

// u16 and u32 read little-endian integers at off in b, reporting whether they fit.
func u16(b []byte, off int) (uint16, bool) {
	if off < 0 || off+2 > len(b) {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b[off:]), true
}

func u32(b []byte, off int) (uint32, bool) {
	if off < 0 || off+4 > len(b) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[off:]), true
}

// stringPool is a ResStringPool chunk. Strings are decoded on demand, so a pool that claims
// millions of strings costs nothing until one is asked for.
type stringPool struct {
	data    []byte // the chunk
	count   int
	utf8    bool
	offsets []byte // count uint32 offsets, relative to stringsStart
	start   int    // stringsStart
}

// maxStringLen caps a decoded string; no name or version this package reads comes close.
const maxStringLen = 4096

func parseStringPool(c chunk) (*stringPool, error) {
	count, ok1 := u32(c.header, 8)
	flags, ok2 := u32(c.header, 16)
	start, ok3 := u32(c.header, 20)
	if !ok1 || !ok2 || !ok3 {
		return nil, errMalformed
	}
	h := int64(len(c.header))
	if h+int64(count)*4 > int64(len(c.data)) || int64(start) > int64(len(c.data)) {
		return nil, errMalformed
	}
	return &stringPool{data: c.data, count: int(count), utf8: flags&(1<<8) != 0,
		offsets: c.data[h : h+int64(count)*4], start: int(start)}, nil
}

// get returns string i. ok is false when i is out of range or the string is malformed.
func (p *stringPool) get(i uint32) (s string, ok bool) {
	if p == nil || int64(i) >= int64(p.count) {
		return "", false
	}
	off := int64(p.start) + int64(binary.LittleEndian.Uint32(p.offsets[4*i:]))
	if off >= int64(len(p.data)) {
		return "", false
	}
	b := p.data[off:]
	if p.utf8 {
		_, n1 := utf8Len(b) // length in UTF-16 units, unused
		size, n2 := utf8Len(b[min(n1, len(b)):])
		if n1 == 0 || n2 == 0 || size > maxStringLen || n1+n2+size > len(b) {
			return "", false
		}
		s := string(b[n1+n2 : n1+n2+size])
		return s, utf8.ValidString(s)
	}
	units, n := utf16Len(b)
	if n == 0 || units > maxStringLen || n+2*units > len(b) {
		return "", false
	}
	u := make([]uint16, units)
	for k := range u {
		u[k] = binary.LittleEndian.Uint16(b[n+2*k:])
	}
	return string(utf16.Decode(u)), true
}

// utf8Len decodes a UTF-8 pool length: one byte, or two when the high bit is set. It returns
// the length and the bytes it used, 0 when b is too short.
func utf8Len(b []byte) (int, int) {
	if len(b) < 1 {
		return 0, 0
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), 1
	}
	if len(b) < 2 {
		return 0, 0
	}
	return int(b[0]&0x7f)<<8 | int(b[1]), 2
}

// utf16Len decodes a UTF-16 pool length: one unit, or two when the high bit is set.
func utf16Len(b []byte) (int, int) {
	if len(b) < 2 {
		return 0, 0
	}
	first := int(binary.LittleEndian.Uint16(b))
	if first&0x8000 == 0 {
		return first, 2
	}
	if len(b) < 4 {
		return 0, 0
	}
	return (first&0x7fff)<<16 | int(binary.LittleEndian.Uint16(b[2:])), 4
}
