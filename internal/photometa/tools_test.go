package photometa

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

// requireTool returns the path of a command the tests need, failing (never skipping) when it
// is missing: deploy/dev/setup.sh installs exiftool (libimage-exiftool-perl) and heif-enc,
// heif-convert (libheif-examples).
func requireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run deploy/dev/setup.sh (%v)", name, err)
	}
	return path
}

// runTool runs a command and returns its standard output, failing the test when it fails.
func runTool(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(requireTool(t, name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stderr.Bytes(), out)
	}
	return out
}

// testPicture is a small gradient, so that the encoders have something to compress.
func testPicture() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 100, 255})
		}
	}
	return img
}

func encodeJPEG(t testing.TB) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testPicture(), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, testPicture()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// encodeHEIC encodes the test picture with libheif's heif-enc (from a PNG).
func encodeHEIC(t testing.TB) []byte {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.heic")
	writeFile(t, in, encodePNG(t))
	runTool(t, "heif-enc", "-o", out, in)
	return readFile(t, out)
}

// The location and camera the tests write. Orientation 6 is "rotate 90° clockwise", what a
// phone held upright writes.
var locationArgs = []string{
	"-GPSLatitude=48.8584", "-GPSLatitudeRef=N", "-GPSLongitude=2.2945", "-GPSLongitudeRef=E",
	"-GPSAltitude=35", "-GPSAltitudeRef=0",
	"-XMP:GPSLatitude=48.8584", "-XMP:GPSLongitude=2.2945",
	"-Orientation=6", "-Make=MportalTestCam", "-Model=Field Phone",
}

// withLocation writes GPS (EXIF and XMP), Orientation and camera make with exiftool, plus any
// extra exiftool arguments, and returns the new file. ext names the format (".jpg").
func withLocation(t testing.TB, photo []byte, ext string, extra ...string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "photo"+ext)
	writeFile(t, path, photo)
	args := append([]string{"-q", "-overwrite_original", "-n"}, locationArgs...)
	runTool(t, "exiftool", append(append(args, extra...), path)...)
	return readFile(t, path)
}

// tag is one tag exiftool reported: its group and name ("EXIF", "GPSLatitude") and value.
type tag struct {
	group, name string
	value       any
}

// readTags returns every tag exiftool reads from photo (-a: duplicates too; -G: groups; -n:
// numbers as stored; -ee: embedded data as well).
func readTags(t testing.TB, photo []byte, ext string) []tag {
	t.Helper()
	path := filepath.Join(t.TempDir(), "photo"+ext)
	writeFile(t, path, photo)
	out := runTool(t, "exiftool", "-j", "-a", "-G", "-n", "-ee", path)
	// Decoded token by token: with -a a key may come twice.
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	var tags []tag
	if tok, err := d.Token(); err != nil || tok != json.Delim('[') {
		t.Fatalf("exiftool printed %s", out)
	}
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("exiftool printed %s", out)
	}
	for d.More() {
		key, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		group, name, _ := strings.Cut(key.(string), ":")
		tags = append(tags, tag{group: group, name: name, value: v})
	}
	return tags
}

// gpsTags returns the tags that give a location away: any tag whose name starts with GPS, in
// any group (EXIF, XMP, Composite).
func gpsTags(tags []tag) []tag {
	var out []tag
	for _, tg := range tags {
		if strings.HasPrefix(strings.ToUpper(tg.name), "GPS") {
			out = append(out, tg)
		}
	}
	return out
}

// tagValue returns the value of group:name as text, or "" when it is missing.
func tagValue(tags []tag, group, name string) string {
	for _, tg := range tags {
		if tg.group == group && tg.name == name {
			b, _ := json.Marshal(tg.value)
			return strings.Trim(string(b), `"`)
		}
	}
	return ""
}

// warnings returns exiftool's warnings and errors about the file.
func warnings(tags []tag) []string {
	var out []string
	for _, tg := range tags {
		if tg.name == "Warning" || tg.name == "Error" {
			out = append(out, tagValue([]tag{tg}, tg.group, tg.name))
		}
	}
	return out
}

// decodeHEIC decodes a HEIC file with libheif's heif-convert and returns the image.
func decodeHEIC(t testing.TB, photo []byte) image.Image {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.heic"), filepath.Join(dir, "out.png")
	writeFile(t, in, photo)
	runTool(t, "heif-convert", in, out)
	img, err := png.Decode(bytes.NewReader(readFile(t, out)))
	if err != nil {
		t.Fatalf("heif-convert's PNG: %v", err)
	}
	return img
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
