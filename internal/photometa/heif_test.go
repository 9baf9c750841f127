package photometa

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

var be = binary.BigEndian

func u16(v uint16) []byte { return be.AppendUint16(nil, v) }
func u32(v uint32) []byte { return be.AppendUint32(nil, v) }

// isoBox returns an ISO-BMFF box.
func isoBoxOf(typ string, parts ...[]byte) []byte {
	payload := bytes.Join(parts, nil)
	return slices.Concat(u32(uint32(8+len(payload))), []byte(typ), payload)
}

// fullBox returns the version and flags of a full box.
func fullBox(version byte) []byte { return []byte{version, 0, 0, 0} }

// heifExtent is an iloc extent: an offset and a length (4 bytes each in these tests).
type heifExtent struct{ off, n uint32 }

// heifFile builds a HEIF file whose meta box has an Exif item (id 1) and an XMP item (id 2):
// each item's construction method and extents, the idat's content and the mdat's.
func heifFile(exifMethod uint16, exifExtents []heifExtent, xmpEncoding string, xmpMethod uint16, xmpExtents []heifExtent, idat, mdat []byte) []byte {
	ftyp := isoBoxOf("ftyp", []byte("heic"), u32(0), []byte("mif1heic"))
	item := func(id, method uint16, extents []heifExtent) []byte {
		b := slices.Concat(u16(id), u16(method), u16(0), u16(uint16(len(extents))))
		for _, e := range extents {
			b = slices.Concat(b, u32(e.off), u32(e.n))
		}
		return b
	}
	meta := func(mdatAt uint32) []byte {
		// Offsets into the file (method 0) count from the mdat's payload in these tests.
		shift := func(method uint16, extents []heifExtent) []heifExtent {
			out := slices.Clone(extents)
			for i := range out {
				if method == 0 {
					out[i].off += mdatAt
				}
			}
			return out
		}
		return isoBoxOf("meta", fullBox(0),
			isoBoxOf("hdlr", fullBox(0), u32(0), []byte("pict"), make([]byte, 13)),
			isoBoxOf("iinf", fullBox(0), u16(2),
				isoBoxOf("infe", fullBox(2), u16(1), u16(0), []byte("Exif\x00")),
				isoBoxOf("infe", fullBox(2), u16(2), u16(0), []byte("mime\x00application/rdf+xml\x00"+xmpEncoding+"\x00"))),
			isoBoxOf("iloc", fullBox(1), []byte{0x44, 0x00}, u16(2),
				item(1, exifMethod, shift(exifMethod, exifExtents)), item(2, xmpMethod, shift(xmpMethod, xmpExtents))),
			isoBoxOf("idat", idat))
	}
	mdatAt := uint32(len(ftyp) + len(meta(0)) + 8)
	return slices.Concat(ftyp, meta(mdatAt), isoBoxOf("mdat", mdat))
}

// heifExifData is an Exif item's data: the offset of the TIFF header, "Exif\0\0", the block.
func heifExifData() []byte {
	return slices.Concat(u32(6), []byte("Exif\x00\x00"), buildEXIF(be, &ifd{entries: cameraEntries(be), gps: gpsDir(be)}))
}

func TestStripHEIF(t *testing.T) {
	exif := heifExifData()
	// The GPS directory (after IFD0's 3 entries and Make's value) is cut in two, and the two
	// halves are stored in the opposite order.
	cut := uint32(10 + 8 + 2 + 3*12 + 4 + 15 + 30)
	reordered := slices.Concat(exif[cut:], exif[:cut])
	exifExtents := []heifExtent{{uint32(len(exif)) - cut, cut}, {0, uint32(len(exif)) - cut}}
	xmp := []byte(xmpWithGPS)

	t.Run("an Exif item in two extents and an XMP item, in the mdat, lose their location", func(t *testing.T) {
		mdat := slices.Concat(reordered, xmp)
		photo := heifFile(0, exifExtents, "", 0, []heifExtent{{uint32(len(exif)), uint32(len(xmp))}}, nil, mdat)
		after := checkStrip(t, photo, ".heic", []string{"EXIF:GPSLatitude", "EXIF:GPSLongitude", "XMP:GPSLatitude"},
			map[string]string{"EXIF:Orientation": "6", "EXIF:Make": "MportalTestCam"})
		if r := Strip(bytes.Clone(photo)); r.Blanked != 2 {
			t.Fatalf("Strip: %+v", r)
		}
		if hasGPSData(after, be) {
			t.Fatal("the GPS values are still there")
		}
	})
	t.Run("an Exif item in two extents of the idat loses its location", func(t *testing.T) {
		// exiftool 12.57 does not read items from an idat, so this one is checked by reading
		// the item back here.
		photo := heifFile(1, exifExtents, "", 0, nil, reordered, nil)
		after := bytes.Clone(photo)
		if r := Strip(after); r.Blanked != 1 {
			t.Fatalf("Strip: %+v", r)
		}
		at := bytes.Index(after, []byte("idat")) + 4 // the idat box's content

		back := slices.Concat(after[at+len(exif)-int(cut):at+len(exif)], after[at:at+len(exif)-int(cut)])
		if hasGPSData(back, be) || !bytes.Contains(back, []byte("MportalTestCam")) || blankEXIF(back[10:]) != exifClean {
			t.Fatalf("the item after Strip: % x", back)
		}
	})
	t.Run("compressed XMP and an Exif item whose TIFF offset points past its data are zeroed", func(t *testing.T) {
		bad := slices.Concat(u32(1000), exif[4:])
		photo := heifFile(1, []heifExtent{{0, uint32(len(bad))}}, "deflate", 0, []heifExtent{{0, uint32(len(xmp))}}, bad, xmp)
		after := bytes.Clone(photo)
		if r := Strip(after); r.Dropped != 2 {
			t.Fatalf("Strip: %+v", r)
		}
		if hasGPSData(after, be) || bytes.Contains(after, []byte("GPS")) {
			t.Fatal("GPS left")
		}
	})
	t.Run("an item built from another item (construction method 2) is left to the sweep, which finds its EXIF", func(t *testing.T) {
		photo := heifFile(2, []heifExtent{{0, uint32(len(exif))}}, "", 2, []heifExtent{{0, uint32(len(xmp))}}, nil, slices.Concat(exif, xmp))
		after := bytes.Clone(photo)
		if r := Strip(after); r.Blanked != 2 || hasGPSData(after, be) || bytes.Contains(after, []byte("51.504N")) {
			t.Fatalf("Strip: %+v", r)
		}
	})
	t.Run("extents that start outside the file or the idat are not followed", func(t *testing.T) {
		photo := heifFile(1, []heifExtent{{5, 10}}, "", 0, []heifExtent{{1 << 31, 10}}, []byte("x"), nil)
		if r := Strip(bytes.Clone(photo)); r.Changed() {
			t.Fatalf("Strip: %+v", r)
		}
	})
	t.Run("a thousand items that all claim the whole file are read no more than the file's size in all", func(t *testing.T) {
		var infe, loc [][]byte
		for id := range uint16(1000) {
			infe = append(infe, isoBoxOf("infe", fullBox(2), u16(id+1), u16(0), []byte("Exif\x00")))
			loc = append(loc, slices.Concat(u16(id+1), u16(0), u16(0), u16(1), u32(0), u32(0)))
		}
		photo := slices.Concat(isoBoxOf("ftyp", []byte("heic")), isoBoxOf("meta", fullBox(0),
			isoBoxOf("iinf", fullBox(0), u16(1000), bytes.Join(infe, nil)),
			isoBoxOf("iloc", fullBox(1), []byte{0x44, 0x00}, u16(1000), bytes.Join(loc, nil))))
		if r := Strip(photo); r.Format != "heic" {
			t.Fatalf("Strip: %+v", r)
		}
	})
	t.Run("an iloc that claims four billion items of empty extents ends at its box", func(t *testing.T) {
		iloc := isoBoxOf("iloc", fullBox(2), []byte{0x00, 0x00}, u32(0xffffffff), bytes.Repeat(slices.Concat(u32(1), u16(0), u16(0), u16(0xffff)), 100))
		photo := slices.Concat(isoBoxOf("ftyp", []byte("heic")), isoBoxOf("meta", fullBox(0), iloc))
		if r := Strip(photo); r.Changed() {
			t.Fatalf("Strip: %+v", r)
		}
	})
}
