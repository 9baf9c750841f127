package photometa

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// byteOrder reads and appends in one byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// entry is a directory entry for buildEXIF: a value of up to 4 bytes is stored in the entry,
// a longer one after the directory.
type entry struct {
	tag, typ uint16
	count    uint32
	value    []byte
}

// ifd describes one directory for buildEXIF; pointers to sub-directories are filled in.
type ifd struct {
	entries []entry
	gps     *ifd // adds a GPSInfo entry pointing to this directory
	exif    *ifd // adds an ExifOffset entry
	next    *ifd // the next directory in the chain (IFD1 after IFD0)
}

// buildEXIF lays out a TIFF block: the header, then each directory followed by its long values.
func buildEXIF(order byteOrder, ifd0 *ifd) []byte {
	b := []byte("MM\x00*\x00\x00\x00\x08")
	if order == binary.LittleEndian {
		b = []byte("II*\x00\x08\x00\x00\x00")
	}
	var write func(d *ifd) uint32
	write = func(d *ifd) uint32 {
		entries := append([]entry{}, d.entries...)
		subs := []*ifd{}
		for _, s := range []struct {
			tag uint16
			d   *ifd
		}{{tagGPSIFD, d.gps}, {tagExifIFD, d.exif}} {
			if s.d != nil {
				entries = append(entries, entry{tag: s.tag, typ: 4, count: 1, value: make([]byte, 4)})
				subs = append(subs, s.d)
			}
		}
		at := uint32(len(b))
		b = order.AppendUint16(b, uint16(len(entries)))
		fields := make([]int, len(entries))
		for i, e := range entries {
			b = order.AppendUint16(b, e.tag)
			b = order.AppendUint16(b, e.typ)
			b = order.AppendUint32(b, e.count)
			fields[i] = len(b)
			b = append(b, 0, 0, 0, 0)
		}
		nextField := len(b)
		b = append(b, 0, 0, 0, 0)
		for i, e := range entries {
			if len(e.value) <= 4 {
				copy(b[fields[i]:], e.value)
				continue
			}
			order.PutUint32(b[fields[i]:], uint32(len(b)))
			b = append(b, e.value...)
		}
		for i, s := range subs {
			off := write(s) // before indexing b, which it grows
			order.PutUint32(b[fields[len(d.entries)+i]:], off)
		}
		if d.next != nil {
			off := write(d.next)
			order.PutUint32(b[nextField:], off)
		}
		return at
	}
	write(ifd0)
	return b
}

func rational(order byteOrder, pairs ...uint32) []byte {
	var b []byte
	for _, v := range pairs {
		b = order.AppendUint32(b, v)
	}
	return b
}

// gpsDir is a GPS directory as phones write it: version, latitude and longitude with their
// references (the rationals are stored after the directory), altitude.
func gpsDir(order byteOrder) *ifd {
	return &ifd{entries: []entry{
		{0, 1, 4, []byte{2, 3, 0, 0}},
		{1, 2, 2, []byte("N\x00")},
		{2, 5, 3, rational(order, 48, 1, 51, 1, 3024, 100)},
		{3, 2, 2, []byte("E\x00")},
		{4, 5, 3, rational(order, 2, 1, 17, 1, 4020, 100)},
		{6, 5, 1, rational(order, 35, 1)},
	}}
}

// orientation and make are IFD0's entries in the tests: what must survive.
func cameraEntries(order byteOrder) []entry {
	return []entry{
		{0x010f, 2, 15, []byte("MportalTestCam\x00")},
		{0x0112, 3, 1, order.AppendUint16(nil, 6)},
	}
}

// hasGPSData reports whether b still holds the test GPS directory's values.
func hasGPSData(b []byte, order byteOrder) bool {
	return bytes.Contains(b, rational(order, 48, 1, 51, 1)) || bytes.Contains(b, rational(order, 2, 1, 17, 1))
}

func TestBlankEXIF(t *testing.T) {
	for _, order := range []byteOrder{binary.BigEndian, binary.LittleEndian} {
		t.Run("zeroes IFD0's GPS directory and its values and keeps the rest, "+order.String(), func(t *testing.T) {
			b := buildEXIF(order, &ifd{entries: cameraEntries(order), gps: gpsDir(order)})
			before := bytes.Clone(b)
			if got := blankEXIF(b); got != exifBlanked {
				t.Fatalf("blankEXIF = %v", got)
			}
			if hasGPSData(b, order) || !bytes.Contains(b, []byte("MportalTestCam")) {
				t.Fatalf("after: % x", b)
			}
			// IFD0 itself, with Orientation 6 and the GPSInfo pointer, is untouched.
			if !bytes.Equal(b[:8+2+3*12+4], before[:8+2+3*12+4]) {
				t.Fatalf("IFD0 changed:\n% x\n% x", before[:50], b[:50])
			}
			if got := blankEXIF(b); got != exifClean {
				t.Fatalf("a second blankEXIF = %v", got)
			}
		})
	}
	be := binary.BigEndian
	for _, c := range []struct {
		name string
		exif []byte
		want exifResult
	}{
		{"blanks a GPS directory that IFD1 points to", buildEXIF(be, &ifd{entries: cameraEntries(be), next: &ifd{gps: gpsDir(be)}}), exifBlanked},
		{"blanks a GPS directory that the Exif directory points to", buildEXIF(be, &ifd{entries: cameraEntries(be), exif: &ifd{gps: gpsDir(be)}}), exifBlanked},
		{"blanks the GPS properties of XMP in IFD0's XMLPacket", buildEXIF(be, &ifd{entries: []entry{
			{tagXMP, 7, uint32(len(xmpWithGPS)), []byte(xmpWithGPS)}}}), exifBlanked},
		{"is clean without a GPS directory", buildEXIF(be, &ifd{entries: cameraEntries(be)}), exifClean},
		{"is clean without IFD0", []byte("MM\x00*\x00\x00\x00\x00"), exifClean},
		{"is not found without a TIFF header", []byte("MM\x00+\x00\x00\x00\x08\x00\x00"), exifNotFound},
		{"is corrupt when IFD0 lies outside the block", []byte("MM\x00*\x00\x00\x01\x00\x00\x00"), exifCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(c.exif)
			if got := blankEXIF(b); got != c.want {
				t.Fatalf("blankEXIF = %v, want %v", got, c.want)
			}
			if hasGPSData(b, be) || bytes.Contains(b, []byte("GPSLatitude")) {
				t.Fatalf("GPS left: %q", b)
			}
		})
	}
}

// xmpWithGPS is a packet with a GPS attribute.
const xmpWithGPS = xmpHead + `<rdf:Description rdf:about=''` + nsDecl + ` exif:GPSLatitude='48,51.504N'/>` + xmpTail

func TestBlankEXIFOnHostileBlocks(t *testing.T) {
	be := binary.BigEndian
	u16, u32 := be.AppendUint16, be.AppendUint32
	header := []byte("MM\x00*\x00\x00\x00\x08")
	dir := func(entries ...[]byte) []byte { // a directory at offset 8 with these entries, next 0
		b := u16(nil, uint16(len(entries)))
		for _, e := range entries {
			b = append(b, e...)
		}
		return u32(b, 0)
	}
	ent := func(tag, typ uint16, count, value uint32) []byte {
		return u32(u32(u16(u16(nil, tag), typ), count), value)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	for _, c := range []struct {
		name  string
		block []byte
		check func(t *testing.T, before, after []byte)
	}{
		{"a GPSInfo pointer outside the block changes nothing",
			cat(header, dir(ent(tagGPSIFD, 4, 1, 0xfffffff0))), unchanged},
		{"IFD0 naming itself as the next directory ends the walk",
			cat(header, u16(nil, 0), u32(nil, 8)), unchanged},
		{"a directory count running past the end reads the entries that are there",
			cat(header, u16(nil, 500), ent(tagGPSIFD, 4, 1, 8+2+12+4)[:12], u32(nil, 0), u16(nil, 1), ent(2, 5, 3, 0xffff)), func(t *testing.T, before, after []byte) {
				if !bytes.Equal(after[:8+2+12], before[:8+2+12]) || bytes.ContainsFunc(after[8+2+12+4:], func(r rune) bool { return r != 0 }) {
					t.Fatalf("% x", after)
				}
			}},
		{"a GPS value pointing into the header leaves the header alone",
			cat(header, dir(ent(tagGPSIFD, 4, 1, 8+2+12+4)), u16(nil, 1), ent(2, 5, 3, 0), u32(nil, 0)), func(t *testing.T, before, after []byte) {
				if !bytes.Equal(after[:8], header) || blankEXIF(after) != exifClean {
					t.Fatalf("% x", after)
				}
			}},
		{"a GPS directory of 65535 entries is blanked as far as the block goes",
			cat(header, dir(ent(tagGPSIFD, 4, 1, 8+2+12+4)), u16(nil, 0xffff), bytes.Repeat(ent(2, 5, 0xffffffff, 0xffffffff), 3)), func(t *testing.T, before, after []byte) {
				if bytes.ContainsFunc(after[8+2+12+4:], func(r rune) bool { return r != 0 }) {
					t.Fatalf("% x", after)
				}
			}},
		{"IFD0 naming more GPS directories than maxIFDs is corrupt: blanked whole by the caller, not walked 5000 times",
			cat(header, u16(nil, 5000), func() []byte {
				var b []byte
				for i := range 5000 {
					b = append(b, ent(tagGPSIFD, 4, 1, uint32(8+2+12*i))...) // each entry names a "directory"
				}
				return b
			}(), u32(nil, 0)), func(t *testing.T, before, after []byte) {
				if got := blankEXIF(bytes.Clone(before)); got != exifCorrupt {
					t.Fatalf("blankEXIF = %v", got)
				}
			}},
		{"an unknown type's value is left where it is, its entry zeroed",
			cat(header, dir(ent(tagGPSIFD, 4, 1, 8+2+12+4)), u16(nil, 1), ent(2, 99, 3, 8), u32(nil, 0)), func(t *testing.T, before, after []byte) {
				if !bytes.Equal(after[:8], header) || bytes.ContainsFunc(after[8+2+12+4:], func(r rune) bool { return r != 0 }) {
					t.Fatalf("% x", after)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(c.block)
			blankEXIF(b)
			if len(b) != len(c.block) {
				t.Fatalf("length changed")
			}
			c.check(t, c.block, b)
		})
	}
}

func unchanged(t *testing.T, before, after []byte) {
	t.Helper()
	if !bytes.Equal(before, after) {
		t.Fatalf("changed:\n% x\n% x", before, after)
	}
}
