package photometa

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
)

// pngSignature starts every PNG file.
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// droppedChunk is the type a metadata chunk that cannot be edited in place is given, with its
// data zeroed: ancillary, private, safe to copy (PNG 3.3), so every decoder skips it.
const droppedChunk = "mpRm"

// xmpKeyword is the keyword of the text chunk that holds XMP.
const xmpKeyword = "XML:com.adobe.xmp"

// stripPNG blanks a PNG file's metadata chunks: eXIf (EXIF), XMP in an uncompressed iTXt or a
// tEXt chunk, and drops what cannot be edited in place: compressed XMP (zTXt, or iTXt with its
// compression flag: blanking would change the compressed length) and ImageMagick's "Raw
// profile type" text chunks (hex-encoded EXIF, XMP or IPTC, which exiftool reads). Chunks after
// IDAT are read too (writers may put eXIf there). The walk stops at IEND or at a chunk that
// runs past the end of the file (taken as far as it goes). Checksums are fixed at the end of
// Strip, once the sweep has run too.
func (p *editor) stripPNG() {
	for c := range pngChunks(p.b) {
		p.pngChunk(c)
	}
}

// pngChunk is one chunk: its header at hdr, its data in [start, end) (end clipped to the file),
// and whether its CRC lies within the file.
type pngChunk struct {
	hdr, start, end int
	typ             string
	whole           bool
}

// pngChunks returns an iterator over the chunks of the PNG file b.
func pngChunks(b []byte) func(yield func(pngChunk) bool) {
	return func(yield func(pngChunk) bool) {
		for i := len(pngSignature); i+8 <= len(b); {
			n := int64(binary.BigEndian.Uint32(b[i:]))
			start := i + 8
			end := int64(start) + n
			c := pngChunk{hdr: i, start: start, end: int(min(end, int64(len(b)))), typ: string(b[i+4 : i+8]),
				whole: end+4 <= int64(len(b))}
			if !yield(c) || c.typ == "IEND" || !c.whole {
				return
			}
			i = int(end + 4)
		}
	}
}

// pngChunk blanks chunk c if it holds metadata.
func (p *editor) pngChunk(c pngChunk) {
	data := p.b[c.start:c.end]
	switch c.typ {
	case "eXIf":
		p.handle(c.start, c.end)
		tiff := data
		if bytes.HasPrefix(tiff, []byte(exifID)) && len(tiff) > len(exifID) { // written so by some tools
			tiff = tiff[len(exifID)+1:]
		}
		switch blankEXIF(tiff) {
		case exifBlanked:
			p.blanked(c.hdr, c.end)
		case exifCorrupt, exifNotFound:
			p.dropChunk(c)
		}
	case "iTXt", "tEXt", "zTXt":
		keyword, rest, ok := bytes.Cut(data, []byte{0})
		switch {
		case !ok:
		case string(keyword) == xmpKeyword:
			p.handle(c.start, c.end)
			text, plain := pngText(c.typ, rest)
			if !plain {
				p.dropChunk(c)
				return
			}
			switch blankXMP(text) {
			case xmpBlanked:
				p.blanked(c.hdr, c.end)
			case xmpCorrupt:
				p.dropChunk(c)
			}
		case isRawProfile(string(keyword)):
			p.dropChunk(c)
		}
	}
}

// pngText returns the text of a text chunk after its keyword, and whether it is stored
// uncompressed (and readable: an iTXt chunk's fields are all there).
func pngText(typ string, rest []byte) ([]byte, bool) {
	switch typ {
	case "tEXt":
		return rest, true
	case "iTXt": // compression flag, method, language tag NUL, translated keyword NUL, text
		if len(rest) < 2 || rest[0] != 0 {
			return nil, false
		}
		_, afterLang, ok := bytes.Cut(rest[2:], []byte{0})
		if !ok {
			return nil, false
		}
		_, text, ok := bytes.Cut(afterLang, []byte{0})
		return text, ok
	}
	return nil, false // zTXt is always compressed
}

// isRawProfile reports whether a text chunk's keyword names one of ImageMagick's hex-encoded
// profiles that can hold a location: EXIF, an APP1 segment (EXIF or XMP), XMP, IPTC.
func isRawProfile(keyword string) bool {
	kind, ok := strings.CutPrefix(strings.ToLower(keyword), "raw profile type ")
	return ok && (kind == "exif" || kind == "app1" || kind == "xmp" || kind == "iptc")
}

// dropChunk turns chunk c into an ignorable private chunk of zeros, of the same length.
func (p *editor) dropChunk(c pngChunk) {
	renamed := c.typ != droppedChunk
	copy(p.b[c.hdr+4:c.hdr+8], droppedChunk)
	if zero(p.b[c.start:c.end]) || renamed {
		p.report.Dropped++
		p.dirty = append(p.dirty, [2]int{c.hdr, c.end})
	}
}

// fixPNGChecksums recomputes the CRC of every chunk that overlaps a changed range, so that
// decoders (Go's image/png among them) do not reject the file.
func (p *editor) fixPNGChecksums() {
	if len(p.dirty) == 0 {
		return
	}
	for c := range pngChunks(p.b) {
		if !c.whole {
			continue
		}
		for _, d := range p.dirty {
			if d[0] < c.end+4 && d[1] > c.hdr {
				binary.BigEndian.PutUint32(p.b[c.end:], crc32.ChecksumIEEE(p.b[c.hdr+4:c.end]))
				break
			}
		}
	}
}
