package photometa

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/photometa/phototest"
)

// segment returns a JPEG marker segment: the marker, the length, the body.
func segment(marker byte, body []byte) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{0xff, marker}, uint16(len(body)+2)), body...)
}

// withSegments inserts segments right after a JPEG's SOI.
func withSegments(jpeg []byte, segs ...[]byte) []byte {
	return slices.Concat(jpeg[:2], bytes.Join(segs, nil), jpeg[2:])
}

// extendedXMPSegment is one chunk of an extended XMP packet.
func extendedXMPSegment(guid string, full, at int, data string) []byte {
	body := append([]byte(xmpExtID+guid), binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(full)), uint32(at))...)
	return segment(0xe1, append(body, data...))
}

const extGUID = "0123456789ABCDEF0123456789ABCDEF"

// mainXMP is a standard XMP packet that announces extended XMP, with a camera make.
var mainXMP = xmpHead + `<rdf:Description rdf:about='' xmlns:xmpNote='http://ns.adobe.com/xmp/note/' xmlns:tiff='http://ns.adobe.com/tiff/1.0/'` +
	` xmpNote:HasExtendedXMP='` + extGUID + `' tiff:Make='MportalTestCam'/>` + xmpTail

// extXMP is an extended XMP packet with a location.
var extXMP = `<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>` +
	`<rdf:Description rdf:about=''` + nsDecl + `><exif:GPSLatitude>48,51.504N</exif:GPSLatitude>` +
	`<exif:GPSLongitude>2,17.67E</exif:GPSLongitude></rdf:Description></rdf:RDF></x:xmpmeta>`

func TestStripJPEG(t *testing.T) {
	plain := phototest.JPEG(t)
	xmpSegment := func(packet string) []byte { return segment(0xe1, []byte(xmpID+packet)) }
	// The extended packet cut in the middle of the latitude's value, as a writer may cut it.
	cut := strings.Index(extXMP, "51.504N")
	extended := [][]byte{xmpSegment(mainXMP),
		extendedXMPSegment(extGUID, len(extXMP), 0, extXMP[:cut]), extendedXMPSegment(extGUID, len(extXMP), cut, extXMP[cut:])}

	t.Run("XMP in attribute form, as phones and Adobe write it, loses its GPS attributes", func(t *testing.T) {
		photo := withSegments(plain, xmpSegment(xmpHead+`<rdf:Description rdf:about=''`+nsDecl+
			` exif:GPSLatitude='48,51.504N' exif:GPSLongitude='2,17.67E' tiff:Make='MportalTestCam'/>`+xmpTail))
		checkStrip(t, photo, ".jpg", []string{"XMP:GPSLatitude", "XMP:GPSLongitude"}, map[string]string{"XMP:Make": "MportalTestCam"})
	})
	t.Run("extended XMP loses the GPS properties that straddle its chunks", func(t *testing.T) {
		checkStrip(t, withSegments(plain, extended...), ".jpg", []string{"XMP:GPSLatitude", "XMP:GPSLongitude"}, map[string]string{"XMP:Make": "MportalTestCam"})
	})
	t.Run("extended XMP whose chunks do not tile the packet is zeroed", func(t *testing.T) {
		photo := withSegments(plain, extended[0], extended[2]) // the first chunk is missing
		after := bytes.Clone(photo)
		if r := Strip(after); r.Dropped != 1 {
			t.Fatalf("Strip: %+v", r)
		}
		if bytes.Contains(after, []byte("17.67E")) || bytes.Contains(after, []byte(xmpExtID)) {
			t.Fatal("the chunk is still there")
		}
		samePixels(t, decodeGo(t, plain), decodeGo(t, after))
	})
	t.Run("an EXIF segment whose TIFF header is broken is zeroed, and the photo still decodes", func(t *testing.T) {
		broken := append([]byte(exifID+"\x00MM\x00+"), buildEXIF(binary.BigEndian, &ifd{gps: gpsDir(binary.BigEndian)})[4:]...)
		photo := withSegments(plain, segment(0xe1, broken))
		after := bytes.Clone(photo)
		if r := Strip(after); r.Dropped != 1 || r.Blanked != 0 {
			t.Fatalf("Strip: %+v", r)
		}
		if !bytes.Equal(after[6:6+len(broken)], make([]byte, len(broken))) || hasGPSData(after, binary.BigEndian) {
			t.Fatalf("the segment's body is not zeroed: % x", after[:6+len(broken)])
		}
		samePixels(t, decodeGo(t, plain), decodeGo(t, after))
	})
	t.Run("XMP that is not well-formed is zeroed", func(t *testing.T) {
		photo := withSegments(plain, xmpSegment(xmpHead+`<rdf:Description><exif:GPSLatitude>48,51.504N</rdf:Description>`+xmpTail))
		after := bytes.Clone(photo)
		if r := Strip(after); r.Dropped != 1 || bytes.Contains(after, []byte("51.504N")) {
			t.Fatalf("Strip: %+v", r)
		}
		decodeGo(t, after)
	})
	t.Run("a second JPEG appended after the first (multi-picture, Ultra HDR) loses its location too", func(t *testing.T) {
		first, second := phototest.WithLocation(t, plain, ".jpg"), phototest.WithLocation(t, phototest.JPEG(t), ".jpg")
		photo := slices.Concat(first, second)
		if r := Strip(photo); r.Blanked != 4 {
			t.Fatalf("Strip: %+v, want EXIF and XMP of both images blanked", r)
		}
		for i, part := range [][]byte{photo[:len(first)], photo[len(first):]} {
			if gps := phototest.Location(phototest.Tags(t, part, ".jpg")); len(gps) > 0 {
				t.Errorf("image %d: location left: %v", i+1, gps)
			}
		}
	})
	t.Run("a segment that runs past the end of the file is blanked as far as it goes", func(t *testing.T) {
		exif := buildEXIF(binary.BigEndian, &ifd{entries: cameraEntries(binary.BigEndian), gps: gpsDir(binary.BigEndian)})
		app1 := segment(0xe1, append([]byte(exifID+"\x00"), exif...))
		binary.BigEndian.PutUint16(app1[2:], 0xfff0)
		photo := append([]byte{0xff, 0xd8}, app1...)
		if r := Strip(photo); r.Blanked != 1 || hasGPSData(photo, binary.BigEndian) {
			t.Fatalf("Strip: %+v", r)
		}
	})
}

// checkStrip strips photo and checks with exiftool that it had the location tags located
// before (so that the test means something) and has no GPS tag after, that the tags in keep
// have their values after, that exiftool has no new warnings, and that a second Strip changes
// nothing.
func checkStrip(t *testing.T, photo []byte, ext string, located []string, keep map[string]string) []byte {
	t.Helper()
	before := phototest.Tags(t, photo, ext)
	for _, want := range located {
		group, name, _ := strings.Cut(want, ":")
		if phototest.Value(before, group, name) == "" {
			t.Fatalf("exiftool reads no %s in the test photo: %v", want, before)
		}
	}
	after := bytes.Clone(photo)
	r := Strip(after)
	if !r.Changed() || len(after) != len(photo) {
		t.Fatalf("Strip: %+v", r)
	}
	tags := phototest.Tags(t, after, ext)
	if gps := phototest.Location(tags); len(gps) > 0 {
		t.Errorf("location left: %v", gps)
	}
	for k, v := range keep {
		group, name, _ := strings.Cut(k, ":")
		if got := phototest.Value(tags, group, name); got != v {
			t.Errorf("%s = %q after Strip, want %q", k, got, v)
		}
	}
	if w := phototest.Warnings(tags); !slices.Equal(w, phototest.Warnings(before)) {
		t.Errorf("exiftool's warnings: %q before, %q after", phototest.Warnings(before), w)
	}
	again := bytes.Clone(after)
	if r := Strip(again); r.Changed() || !bytes.Equal(again, after) {
		t.Errorf("a second Strip changed the photo again: %+v", r)
	}
	return after
}
