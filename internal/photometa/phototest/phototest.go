// Package phototest makes photos with a location in them and reads their metadata back, with
// tools independent of internal/photometa: Go's image encoders, libheif's heif-enc and
// heif-convert, and exiftool, which writes and reads EXIF and XMP in every format. A missing
// tool fails the test (deploy/dev/setup.sh installs them); it never skips it.
package phototest

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireTool returns the path of a command the tests need, failing (never skipping) when it is
// missing: deploy/dev/setup.sh installs exiftool (libimage-exiftool-perl), heif-enc and
// heif-convert (libheif-examples).
func RequireTool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s is not installed: run deploy/dev/setup.sh (%v)", name, err)
	}
	return path
}

// Run runs a command and returns its standard output, failing the test when it fails.
func Run(tb testing.TB, name string, args ...string) []byte {
	tb.Helper()
	cmd := exec.Command(RequireTool(tb, name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stderr.Bytes(), out)
	}
	return out
}

// Picture is a small gradient, so that the encoders have something to compress.
func Picture() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 100, 255})
		}
	}
	return img
}

// JPEG encodes Picture with image/jpeg.
func JPEG(tb testing.TB) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, Picture(), nil); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// PNG encodes Picture with image/png.
func PNG(tb testing.TB) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, Picture()); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// HEIC encodes Picture with libheif's heif-enc (from a PNG).
func HEIC(tb testing.TB) []byte {
	dir := tb.TempDir()
	in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.heic")
	write(tb, in, PNG(tb))
	Run(tb, "heif-enc", "-o", out, in)
	return read(tb, out)
}

// The camera WithLocation writes. Orientation 6 is "rotate 90° clockwise", what a phone held
// upright writes.
const (
	Make        = "MportalTestCam"
	Model       = "Field Phone"
	Orientation = "6"
)

// locationArgs are exiftool's arguments for a location in EXIF and XMP and a camera.
var locationArgs = []string{
	"-GPSLatitude=48.8584", "-GPSLatitudeRef=N", "-GPSLongitude=2.2945", "-GPSLongitudeRef=E",
	"-GPSAltitude=35", "-GPSAltitudeRef=0",
	"-XMP:GPSLatitude=48.8584", "-XMP:GPSLongitude=2.2945",
	"-Orientation=" + Orientation, "-Make=" + Make, "-Model=" + Model,
}

// WithLocation writes a location (EXIF GPS and XMP GPS), Orientation and the camera into photo
// with exiftool, plus any extra exiftool arguments, and returns the new file. ext names the
// format (".jpg", ".png", ".heic").
func WithLocation(tb testing.TB, photo []byte, ext string, extra ...string) []byte {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "photo"+ext)
	write(tb, path, photo)
	args := append([]string{"-q", "-overwrite_original", "-n"}, locationArgs...)
	Run(tb, "exiftool", append(append(args, extra...), path)...)
	return read(tb, path)
}

// Tag is one tag exiftool read: its group and name ("EXIF", "GPSLatitude") and value.
type Tag struct {
	Group, Name string
	Value       any
}

// String is "group:name=value".
func (t Tag) String() string {
	b, _ := json.Marshal(t.Value)
	return t.Group + ":" + t.Name + "=" + string(b)
}

// Tags returns every tag exiftool reads from photo (-a: duplicates too; -G: groups; -n:
// numbers as stored; -ee: embedded data as well).
func Tags(tb testing.TB, photo []byte, ext string) []Tag {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "photo"+ext)
	write(tb, path, photo)
	out := Run(tb, "exiftool", "-j", "-a", "-G", "-n", "-ee", path)
	// Decoded token by token: with -a a key may come twice.
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	for _, want := range []json.Delim{'[', '{'} {
		if tok, err := d.Token(); err != nil || tok != want {
			tb.Fatalf("exiftool printed %s", out)
		}
	}
	var tags []Tag
	for d.More() {
		key, err := d.Token()
		if err != nil {
			tb.Fatal(err)
		}
		var v any
		if err := d.Decode(&v); err != nil {
			tb.Fatal(err)
		}
		group, name, _ := strings.Cut(key.(string), ":")
		tags = append(tags, Tag{Group: group, Name: name, Value: v})
	}
	return tags
}

// Location returns the tags that give a location away: any tag whose name starts with GPS, in
// any group (EXIF, XMP, Composite).
func Location(tags []Tag) []Tag {
	var out []Tag
	for _, t := range tags {
		if strings.HasPrefix(strings.ToUpper(t.Name), "GPS") {
			out = append(out, t)
		}
	}
	return out
}

// Value returns the value of group:name as text, or "" when it is missing.
func Value(tags []Tag, group, name string) string {
	for _, t := range tags {
		if t.Group == group && t.Name == name {
			b, _ := json.Marshal(t.Value)
			return strings.Trim(string(b), `"`)
		}
	}
	return ""
}

// Warnings returns exiftool's warnings and errors about the file.
func Warnings(tags []Tag) []string {
	var out []string
	for _, t := range tags {
		if t.Name == "Warning" || t.Name == "Error" {
			out = append(out, Value([]Tag{t}, t.Group, t.Name))
		}
	}
	return out
}

// DecodeHEIC decodes a HEIC file with libheif's heif-convert and returns the image.
func DecodeHEIC(tb testing.TB, photo []byte) image.Image {
	tb.Helper()
	dir := tb.TempDir()
	in, out := filepath.Join(dir, "in.heic"), filepath.Join(dir, "out.png")
	write(tb, in, photo)
	Run(tb, "heif-convert", in, out)
	img, err := png.Decode(bytes.NewReader(read(tb, out)))
	if err != nil {
		tb.Fatalf("heif-convert's PNG: %v", err)
	}
	return img
}

func write(tb testing.TB, path string, b []byte) {
	tb.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

func read(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
