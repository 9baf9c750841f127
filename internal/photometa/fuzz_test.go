package photometa

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/photometa/phototest"
)

// seedPhotos are the fuzzer's seed corpus and the truncation test's photos: what exiftool writes
// into the three formats, and the hand-made structures of the other tests.
func seedPhotos(t testing.TB) map[string][]byte {
	exif := buildEXIF(be, &ifd{entries: cameraEntries(be), gps: gpsDir(be), next: &ifd{gps: gpsDir(be)}})
	cut := strings.Index(extXMP, "51.504N")
	plainJPEG, plainPNG := phototest.JPEG(t), phototest.PNG(t)
	return map[string][]byte{
		"exiftool jpeg": phototest.WithLocation(t, plainJPEG, ".jpg"),
		"exiftool png":  phototest.WithLocation(t, plainPNG, ".png"),
		"exiftool heic": phototest.WithLocation(t, phototest.HEIC(t), ".heic"),
		"extended xmp jpeg": withSegments(plainJPEG, segment(0xe1, []byte(xmpID+mainXMP)),
			extendedXMPSegment(extGUID, len(extXMP), 0, extXMP[:cut]), extendedXMPSegment(extGUID, len(extXMP), cut, extXMP[cut:])),
		"png chunks": withChunks(plainPNG, chunk("eXIf", exif), chunk("iTXt", []byte(xmpKeyword+"\x00\x00\x00\x00\x00"+xmpWithGPS))),
		"heif items": heifFile(1, []heifExtent{{0, uint32(len(heifExifData()))}}, "", 0,
			[]heifExtent{{0, uint32(len(xmpWithGPS))}}, heifExifData(), []byte(xmpWithGPS)),
		"tiff": exif,
	}
}

// FuzzStrip checks that Strip never panics, never hangs, never changes a photo's length,
// changes nothing without saying so, and leaves nothing for a second Strip, whatever the
// bytes. Run it for a while (-parallel 1 on a shared machine; minimizing an input of a few KiB
// takes a minute by default) with
//
//	go test -run '^$' -fuzz FuzzStrip -fuzztime 3m -fuzzminimizetime 10s -parallel 1 ./internal/photometa/
func FuzzStrip(f *testing.F) {
	seeds := seedPhotos(f)
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		f.Add(seeds[name])
	}
	f.Add([]byte{})
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x02"))
	f.Add(slices.Concat([]byte("\x00\x00\x00\x10ftypheic"), u32(0), []byte("\x00\x00\x00\x00meta")))
	f.Fuzz(func(t *testing.T, photo []byte) {
		b := bytes.Clone(photo)
		r := Strip(b)
		if len(b) != len(photo) {
			t.Fatalf("length %d -> %d", len(photo), len(b))
		}
		if !r.Changed() && !bytes.Equal(b, photo) {
			t.Fatalf("bytes changed, but the report says nothing did: %+v", r)
		}
		if r2 := Strip(b); r2.Changed() { // CompleteUpload strips again after a crash
			t.Fatalf("a second Strip changed more: %+v then %+v", r, r2)
		}
	})
}

// TestStripTruncatedPhotos strips every prefix of the seed photos: an upload cut anywhere, in
// the middle of a segment, chunk, box or directory, must neither panic nor change the length,
// and what is left of the location must still be blanked.
func TestStripTruncatedPhotos(t *testing.T) {
	for name, photo := range seedPhotos(t) {
		t.Run(name, func(t *testing.T) {
			for n := range len(photo) + 1 {
				b := bytes.Clone(photo[:n])
				Strip(b)
				if len(b) != n {
					t.Fatalf("prefix %d: length changed to %d", n, len(b))
				}
				// Wherever the cut, the GPS values never survive whole (they lie after the
				// structures that lead to them, so a cut either keeps the way to them or
				// drops them).
				if hasGPSData(b, be) || bytes.Contains(b, []byte("51.504N")) {
					t.Fatalf("prefix %d: GPS left", n)
				}
			}
		})
	}
}
