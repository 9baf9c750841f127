package artifacttest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"math/rand/v2"
	"testing"
)

// ZipEntry is one file of a test archive.
type ZipEntry struct {
	// Name is the path in the archive.
	Name string
	// Data is the content; with Raw, the already compressed bytes.
	Data []byte
	// Store writes the entry uncompressed instead of deflated.
	Store bool
	// Raw writes Data as is under Header, to forge sizes, CRCs, flags and methods.
	Raw bool
	// Header is the header of a Raw entry; its Name is replaced by Name.
	Header zip.FileHeader
}

// Zip returns a ZIP archive of entries, in order.
func Zip(t testing.TB, entries ...ZipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.Raw {
			h := e.Header
			h.Name = e.Name
			w, err := zw.CreateRaw(&h)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(e.Data); err != nil {
				t.Fatal(err)
			}
			continue
		}
		method := zip.Deflate
		if e.Store {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// PNG returns a real square PNG of the given size.
func PNG(t testing.TB, size int) []byte { return TintedPNG(t, size, 0x20) }

// TintedPNG returns a real square PNG of the given size, tinted so that icons differ.
func TintedPNG(t testing.TB, size int, tint uint8) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = tint, 0x80, 0x40, 0xff
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// CgBI turns a PNG into the shape of an Xcode-crushed one: a CgBI chunk before IHDR. The
// rest is left as is; artifact.Inspect only detects the flag.
func CgBI(p []byte) []byte {
	var c bytes.Buffer
	c.Write([]byte{0, 0, 0, 4})
	c.WriteString("CgBI")
	c.Write([]byte{0x50, 0, 0x20, 0x06})
	c.Write(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(c.Bytes()[4:])))
	out := append([]byte{}, p[:8]...)
	out = append(out, c.Bytes()...)
	return append(out, p[8:]...)
}

// filler returns n pseudo-random bytes, which deflate cannot shrink, from a fixed seed so
// that files stay reproducible.
func filler(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
