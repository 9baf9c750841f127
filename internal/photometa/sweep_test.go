package photometa

import (
	"bytes"
	"slices"
	"testing"
)

func TestSweep(t *testing.T) {
	exif := buildEXIF(be, &ifd{entries: cameraEntries(be), gps: gpsDir(be)})
	t.Run("finds EXIF and XMP in a file of an unknown format", func(t *testing.T) {
		photo := slices.Concat([]byte("some container "), exif, []byte(" and "), []byte(xmpWithGPS), []byte(" end"))
		if r := Strip(photo); r.Format != "" || r.Blanked != 2 || hasGPSData(photo, be) || bytes.Contains(photo, []byte("51.504N")) {
			t.Fatalf("Strip: %+v", r)
		}
		if !bytes.Contains(photo, []byte("MportalTestCam")) {
			t.Fatal("the camera went too")
		}
	})
	t.Run("leaves alone what only looks like EXIF: a GPSInfo pointer to bytes that are no GPS directory", func(t *testing.T) {
		notGPS := slices.Concat(u16(3), bytes.Repeat(slices.Concat(u16(0x9000), u16(7), u32(4), []byte("data")), 3), u32(0))
		block := buildEXIF(be, &ifd{entries: []entry{{tagGPSIFD, 4, 1, u32(8 + 2 + 12 + 4)}}})
		photo := slices.Concat([]byte("pixels "), block, notGPS, []byte(" more pixels"))
		before := bytes.Clone(photo)
		if r := Strip(photo); r.Changed() || !bytes.Equal(photo, before) {
			t.Fatalf("Strip: %+v", r)
		}
	})
	t.Run("stops at a bounded number of EXIF blocks", func(t *testing.T) {
		photo := bytes.Repeat(exif, maxSweptBlocks+10)
		if r := Strip(photo); r.Blanked != maxSweptBlocks {
			t.Fatalf("Strip: %+v", r)
		}
	})
}
