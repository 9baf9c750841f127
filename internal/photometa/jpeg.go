package photometa

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"maps"
	"slices"
)

// jpegSOI starts every JPEG file: the SOI marker and the first byte of the next one.
var jpegSOI = []byte{0xff, 0xd8, 0xff}

// The identifiers that open APP1 segments.
const (
	exifID   = "Exif\x00"                               // then a pad byte and the TIFF header
	xmpID    = "http://ns.adobe.com/xap/1.0/\x00"       // then the XMP packet
	xmpExtID = "http://ns.adobe.com/xmp/extension/\x00" // then a chunk of an extended XMP packet
)

// xmpExtHeader is the length of an extended XMP chunk's header after its identifier: the GUID
// (32 hex digits), the full packet's length and this chunk's offset in it.
const xmpExtHeader = 32 + 4 + 4

// xmpChunk is one APP1 segment of an extended XMP packet.
type xmpChunk struct {
	start, end int    // the segment's body in the file
	full, at   uint32 // the packet's length, this chunk's offset in it
}

// stripJPEG blanks the EXIF and XMP APP1 segments of a JPEG file. They all come before the
// first SOS (start of scan); the walk stops there, or where the segment structure breaks (no
// reader gets further either). A segment that runs past the end of the file is taken as far
// as it goes.
func (p *editor) stripJPEG() {
	b := p.b
	extended := map[string][]xmpChunk{}
	i := 2
segments:
	for i+2 <= len(b) && b[i] == 0xff {
		switch m := b[i+1]; {
		case m == 0xff: // a fill byte before a marker
			i++
		case m == 0x01 || m >= 0xd0 && m <= 0xd8: // markers without a length
			i += 2
		case m == 0xd9 || m == 0xda || i+4 > len(b): // EOI, SOS: no metadata segment follows
			break segments
		default:
			n := int(binary.BigEndian.Uint16(b[i+2:]))
			if n < 2 {
				break segments
			}
			if m == 0xe1 {
				p.app1(i+4, min(i+2+n, len(b)), extended)
			}
			i += 2 + n
		}
	}
	p.extendedXMP(extended)
}

// app1 blanks the APP1 segment whose body is b[start:end], if it holds EXIF or XMP; chunks of
// extended XMP are collected to be reassembled.
func (p *editor) app1(start, end int, extended map[string][]xmpChunk) {
	body := p.b[start:end]
	switch {
	case bytes.HasPrefix(body, []byte(exifID)) && len(body) > len(exifID):
		p.handle(start, end)
		switch blankEXIF(body[len(exifID)+1:]) {
		case exifBlanked:
			p.blanked(start, end)
		case exifCorrupt, exifNotFound:
			p.dropped(start, end)
		}
	case bytes.HasPrefix(body, []byte(xmpID)):
		p.handle(start, end)
		switch blankXMP(body[len(xmpID):]) {
		case xmpBlanked:
			p.blanked(start, end)
		case xmpCorrupt:
			p.dropped(start, end)
		}
	case bytes.HasPrefix(body, []byte(xmpExtID)):
		p.handle(start, end)
		h := body[len(xmpExtID):]
		if len(h) < xmpExtHeader {
			p.dropped(start, end)
			return
		}
		guid := string(h[:32])
		extended[guid] = append(extended[guid], xmpChunk{start: start, end: end,
			full: binary.BigEndian.Uint32(h[32:]), at: binary.BigEndian.Uint32(h[36:])})
	}
}

// extendedXMP blanks the GPS properties of extended XMP packets, which a writer splits into
// chunks of at most 64 KiB at any byte (a property may straddle two chunks): each packet is
// reassembled in order, blanked, and written back into its chunks. A packet whose chunks do
// not tile it exactly, or that is not well-formed, is dropped: its segments are zeroed.
func (p *editor) extendedXMP(extended map[string][]xmpChunk) {
	data := func(c xmpChunk) []byte { return p.b[c.start+len(xmpExtID)+xmpExtHeader : c.end] }
	for _, guid := range slices.Sorted(maps.Keys(extended)) {
		chunks := extended[guid]
		slices.SortStableFunc(chunks, func(a, b xmpChunk) int { return cmp.Compare(a.at, b.at) })
		var packet []byte
		tiled := true
		for _, c := range chunks {
			if c.full != chunks[0].full || int64(c.at) != int64(len(packet)) || int64(len(packet))+int64(len(data(c))) > int64(c.full) {
				tiled = false
				break
			}
			packet = append(packet, data(c)...)
		}
		result := xmpCorrupt
		if tiled && len(packet) == int(chunks[0].full) {
			result = blankXMP(packet)
		}
		switch result {
		case xmpBlanked:
			rest := packet
			for _, c := range chunks {
				rest = rest[copy(data(c), rest):]
				p.dirty = append(p.dirty, [2]int{c.start, c.end})
			}
			p.report.Blanked++
		case xmpCorrupt:
			for _, c := range chunks {
				p.dropped(c.start, c.end)
			}
		}
	}
}
