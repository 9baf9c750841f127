// Package photometa removes location metadata from photos in place: the GPS directory of their
// EXIF and the GPS properties of their XMP, in JPEG, PNG and HEIC files, without changing the
// file's length or any other metadata (Orientation, camera, dates stay valid).
//
// The length is kept so that a stored object can be overwritten under its key with the same
// size, and so that stripping twice is a no-op. Everything is blanked where it lies: the GPS
// directory's entries and the values they point to are zeroed, XMP properties are replaced by
// spaces (the XML stays well-formed), and a metadata block whose structure cannot be walked
// (so that no GPS can be ruled out in it) is blanked whole.
//
// It is written by hand because no well-kept Go library edits metadata in place in all three
// formats: dsoprea/go-exif rebuilds EXIF blocks (which moves every offset) and writes JPEG and
// PNG only, evanoberholster/imagemeta reads only, and the exif-remove packages built on go-exif
// drop the whole EXIF block, Orientation included (phones rotate photos with it).
//
// Strip never fails and never panics: malformed or hostile input is bounds-checked everywhere,
// every walk is bounded, and a structure that cannot be read hides nothing from a reader either.
package photometa

import "bytes"

// Report says what Strip changed in one photo.
type Report struct {
	// Format is "jpeg", "png", "heic" (any ISO-BMFF file), or "" for anything else (which
	// only gets the sweep, see Strip).
	Format string
	// Blanked counts the metadata blocks whose location properties were blanked: an EXIF
	// block's GPS directories, an XMP packet's GPS properties.
	Blanked int
	// Dropped counts the metadata blocks blanked whole because they could not be parsed
	// (corrupt EXIF, XML that is not well-formed, compressed XMP that cannot be edited in
	// place).
	Dropped int
}

// Changed reports whether Strip changed any byte.
func (r Report) Changed() bool { return r.Blanked+r.Dropped > 0 }

// Strip blanks the location metadata of photo in place and reports what it changed. The length
// of photo never changes, and running it again on its own result changes nothing: for
// metadata as cameras and editors write it one pass does it all and a second finds nothing;
// hostile structures (a value overlapping a directory, XMP overlapping EXIF) can expose more to
// blank once something was blanked, so Strip repeats its pass until one changes nothing, at
// most maxPasses times.
//
// The format is told by the content: JPEG (every APP1 EXIF and XMP segment, extended XMP
// included), PNG (eXIf, XMP in iTXt or tEXt, legacy "Raw profile" text chunks, with their
// CRCs recomputed) and ISO-BMFF/HEIC (Exif items and XMP mime items of the meta box). Then a
// sweep of the whole file looks for TIFF headers and XMP packets anywhere else (images
// appended after a JPEG, EXIF thumbnails, items stored in unusual ways) and blanks the GPS it
// finds in them, as a reader that searches the bytes would find it.
func Strip(photo []byte) Report {
	total := stripOnce(photo)
	for pass := 1; pass < maxPasses && total.Changed(); pass++ {
		r := stripOnce(photo)
		if !r.Changed() {
			break
		}
		total.Blanked, total.Dropped = total.Blanked+r.Blanked, total.Dropped+r.Dropped
	}
	return total
}

// maxPasses bounds Strip's passes. Blanking only writes zeros and spaces, and a block that
// stops parsing is zeroed, so passes settle fast; the fuzzer has not found one needing three.
const maxPasses = 4

// stripOnce is one pass of Strip.
func stripOnce(photo []byte) Report {
	p := &editor{b: photo}
	switch {
	case bytes.HasPrefix(photo, jpegSOI):
		p.report.Format = "jpeg"
		p.stripJPEG()
	case bytes.HasPrefix(photo, pngSignature):
		p.report.Format = "png"
		p.stripPNG()
	case len(photo) >= 8 && string(photo[4:8]) == "ftyp":
		p.report.Format = "heic"
		p.stripHEIF()
	}
	p.sweep()
	if p.report.Format == "png" {
		p.fixPNGChecksums()
	}
	return p.report
}

// editor holds a photo being stripped and what was changed in it.
type editor struct {
	b      []byte
	report Report
	// dirty are the ranges that may have changed, [start, end) in b, for the PNG checksums.
	dirty [][2]int
	// handled are the metadata blocks the format's structure led to, which the sweep skips.
	handled [][2]int
}

// handle records that b[start:end] is a metadata block the structural pass has dealt with.
func (p *editor) handle(start, end int) { p.handled = append(p.handled, [2]int{start, end}) }

// blanked counts a block whose location was blanked and marks its range dirty.
func (p *editor) blanked(start, end int) {
	p.report.Blanked++
	p.dirty = append(p.dirty, [2]int{start, end})
}

// dropped blanks b[start:end] whole (zeros), counting it when anything changed.
func (p *editor) dropped(start, end int) {
	if zero(p.b[start:end]) {
		p.report.Dropped++
		p.dirty = append(p.dirty, [2]int{start, end})
	}
}

// zero sets b to zeros and reports whether any byte changed.
func zero(b []byte) bool { return fill(b, 0) }

// fill sets every byte of b to c and reports whether any byte changed.
func fill(b []byte, c byte) bool {
	changed := false
	for i := range b {
		if b[i] != c {
			b[i] = c
			changed = true
		}
	}
	return changed
}
