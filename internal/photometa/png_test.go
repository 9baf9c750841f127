package photometa

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/photometa/phototest"
)

// chunk returns a PNG chunk with its CRC.
func chunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(append(b, typ...), data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// withChunks inserts chunks after a PNG's IHDR (8 bytes of signature, 25 of IHDR).
func withChunks(png []byte, chunks ...[]byte) []byte {
	return slices.Concat(png[:33], bytes.Join(chunks, nil), png[33:])
}

func deflate(t *testing.T, s string) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestStripPNG(t *testing.T) {
	plain := phototest.PNG(t)
	be := binary.BigEndian
	exif := buildEXIF(be, &ifd{entries: cameraEntries(be), gps: gpsDir(be)})

	t.Run("compressed XMP, which cannot be edited in place, is dropped: a private chunk of zeros", func(t *testing.T) {
		itxt := append([]byte(xmpKeyword+"\x00\x01\x00\x00\x00"), deflate(t, xmpWithGPS)...)
		photo := withChunks(plain, chunk("eXIf", exif), chunk("iTXt", itxt))
		after := checkStrip(t, photo, ".png", []string{"XMP:GPSLatitude", "EXIF:GPSLatitude"}, map[string]string{"EXIF:Orientation": "6", "EXIF:Make": "MportalTestCam"})
		if !bytes.Contains(after, []byte(droppedChunk)) {
			t.Fatal("no dropped chunk")
		}
		samePixels(t, decodeGo(t, plain), decodeGo(t, after)) // and image/png checks the CRCs
	})
	t.Run("EXIF written with an Exif\\0\\0 prefix, and XMP in a tEXt chunk, are blanked", func(t *testing.T) {
		photo := withChunks(plain, chunk("eXIf", append([]byte(exifID+"\x00"), exif...)), chunk("tEXt", []byte(xmpKeyword+"\x00"+xmpWithGPS)))
		after := bytes.Clone(photo)
		if r := Strip(after); r.Blanked != 2 || hasGPSData(after, be) || bytes.Contains(after, []byte("51.504N")) {
			t.Fatalf("Strip: %+v", r)
		}
		samePixels(t, decodeGo(t, plain), decodeGo(t, after))
	})
	t.Run("ImageMagick's raw EXIF profile is dropped", func(t *testing.T) {
		ztxt := append([]byte("Raw profile type exif\x00\x00"), deflate(t, "\nexif\n      12\n4d4d002a00000008\n")...)
		photo := withChunks(plain, chunk("zTXt", ztxt))
		after := bytes.Clone(photo)
		if r := Strip(after); r.Dropped != 1 || bytes.Contains(after, []byte("Raw profile")) {
			t.Fatalf("Strip: %+v", r)
		}
		samePixels(t, decodeGo(t, plain), decodeGo(t, after))
	})
	t.Run("EXIF that cannot be walked is dropped", func(t *testing.T) {
		photo := withChunks(plain, chunk("eXIf", []byte("MM\x00*\x00\x00\xff\xff")))
		after := bytes.Clone(photo)
		if r := Strip(after); r.Dropped != 1 {
			t.Fatalf("Strip: %+v", r)
		}
		samePixels(t, decodeGo(t, plain), decodeGo(t, after))
	})
	t.Run("EXIF after the image data is blanked", func(t *testing.T) {
		end := len(plain) - 12 // before IEND
		photo := slices.Concat(plain[:end], chunk("eXIf", exif), plain[end:])
		after := bytes.Clone(photo)
		if r := Strip(after); r.Blanked != 1 || hasGPSData(after, be) {
			t.Fatalf("Strip: %+v", r)
		}
		decodeGo(t, after)
	})
}
