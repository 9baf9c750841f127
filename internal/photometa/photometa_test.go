package photometa

import (
	"bytes"
	"image"
	"image/draw"
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/photometa/phototest"
)

// decodeGo decodes a JPEG or PNG with Go's decoders (image/png checks every chunk's CRC).
func decodeGo(t testing.TB, photo []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(photo))
	if err != nil {
		t.Fatalf("the photo does not decode: %v", err)
	}
	return img
}

// samePixels fails unless a and b are the same picture.
func samePixels(t testing.TB, a, b image.Image) {
	t.Helper()
	rgba := func(img image.Image) *image.RGBA {
		out := image.NewRGBA(img.Bounds())
		draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
		return out
	}
	if a.Bounds() != b.Bounds() || !bytes.Equal(rgba(a).Pix, rgba(b).Pix) {
		t.Fatalf("the picture changed: %v -> %v", a.Bounds(), b.Bounds())
	}
}

func TestStripRemovesTheLocationThatExiftoolWrote(t *testing.T) {
	for _, c := range []struct {
		name   string
		ext    string
		encode func(testing.TB) []byte
		decode func(testing.TB, []byte) image.Image
	}{
		{"a JPEG from image/jpeg", ".jpg", phototest.JPEG, decodeGo},
		{"a PNG from image/png", ".png", phototest.PNG, decodeGo},
		{"a HEIC from heif-enc", ".heic", phototest.HEIC, phototest.DecodeHEIC},
	} {
		t.Run(c.name+" loses every GPS tag and keeps its orientation, camera and pixels", func(t *testing.T) {
			original := c.encode(t)
			before := phototest.WithLocation(t, original, c.ext)
			tagsBefore := phototest.Tags(t, before, c.ext)
			// The test means nothing unless exiftool wrote the location where we look for it.
			for _, want := range []string{"EXIF:GPSLatitude", "EXIF:GPSLongitude", "EXIF:GPSAltitude", "XMP:GPSLatitude", "XMP:GPSLongitude"} {
				if !slices.ContainsFunc(tagsBefore, func(tg phototest.Tag) bool { return tg.Group+":"+tg.Name == want }) {
					t.Fatalf("exiftool wrote no %s: %v", want, tagsBefore)
				}
			}

			after := bytes.Clone(before)
			report := Strip(after)
			if len(after) != len(before) || !report.Changed() {
				t.Fatalf("Strip: %+v, length %d -> %d", report, len(before), len(after))
			}
			tagsAfter := phototest.Tags(t, after, c.ext)
			if gps := phototest.Location(tagsAfter); len(gps) > 0 {
				t.Errorf("location left after Strip: %v", gps)
			}
			for _, want := range []struct{ group, name, value string }{
				{"EXIF", "Orientation", phototest.Orientation}, {"EXIF", "Make", phototest.Make}, {"EXIF", "Model", phototest.Model},
			} {
				if got := phototest.Value(tagsAfter, want.group, want.name); got != want.value {
					t.Errorf("%s:%s = %q after Strip, want %q", want.group, want.name, got, want.value)
				}
			}
			if w := phototest.Warnings(tagsAfter); !slices.Equal(w, phototest.Warnings(tagsBefore)) {
				t.Errorf("exiftool's warnings: %q before, %q after", phototest.Warnings(tagsBefore), w)
			}
			samePixels(t, c.decode(t, original), c.decode(t, after))

			again := bytes.Clone(after)
			if r := Strip(again); r.Changed() || !bytes.Equal(again, after) {
				t.Errorf("a second Strip changed the photo again: %+v", r)
			}
		})
	}
}
