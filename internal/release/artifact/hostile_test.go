package artifact

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"

	"github.com/mportal/mportal/internal/apperr"
)

// zerosDeflate returns a raw deflate stream of mib MiB of zeros, about 1 KiB per MiB. It
// compresses one MiB once and repeats it: a sync-flushed segment from a fresh compressor ends
// on a byte boundary and refers only to bytes inside itself, so copies concatenate into a
// valid stream, and the test never materialises the zeros.
var zeroSegment = sync.OnceValues(func() ([]byte, []byte) {
	var seg, end bytes.Buffer
	w, _ := flate.NewWriter(&seg, flate.BestCompression)
	_, _ = w.Write(make([]byte, 1<<20))
	_ = w.Flush()
	w, _ = flate.NewWriter(&end, flate.BestCompression)
	_ = w.Close() // an empty final block
	return seg.Bytes(), end.Bytes()
})

func zerosDeflate(mib int) []byte {
	seg, end := zeroSegment()
	return append(bytes.Repeat(seg, mib), end...)
}

// bombEntry is a GiB of zeros stored as name, declaring uncompressed the size it claims.
func bombEntry(name string, claims uint64) artifacttest.ZipEntry {
	data := zerosDeflate(1024)
	return artifacttest.ZipEntry{Name: name, Raw: true, Data: data, Header: zip.FileHeader{
		Method: zip.Deflate, CompressedSize64: uint64(len(data)), UncompressedSize64: claims}}
}

func TestZerosDeflateIsAValidStream(t *testing.T) {
	r := flate.NewReader(bytes.NewReader(zerosDeflate(3)))
	n, err := io.Copy(io.Discard, r)
	if err != nil || n != 3<<20 {
		t.Fatalf("decompressed %d bytes, %v; want 3 MiB", n, err)
	}
}

func TestInspectRejectsHostileFiles(t *testing.T) {
	manifest := func() []byte { return artifacttest.EncodeAXML(artifacttest.DemoManifest(), true) }
	apkWith := func(mutate func(*artifacttest.APKSpec)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { o := artifacttest.DemoAPK(t); mutate(&o); return o.Bytes(t) }
	}
	ipaWith := func(mutate func(*artifacttest.IPASpec)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { o := artifacttest.DemoIPA(t); mutate(&o); return o.Bytes(t) }
	}
	tests := []struct {
		name   string
		file   func(t *testing.T) []byte
		limits Limits
		code   apperr.Code
		msg    string
	}{
		{"rejects an empty file", func(*testing.T) []byte { return nil }, Limits{}, apperr.Invalid, "the file is empty"},
		{"rejects random bytes", func(t *testing.T) []byte { return randomBytes(t, 4096) }, Limits{}, apperr.Invalid, "not a valid ZIP archive"},
		{"rejects an archive cut short at its end", func(t *testing.T) []byte {
			b := artifacttest.DemoAPK(t).Bytes(t)
			return b[:len(b)-10]
		}, Limits{}, apperr.Invalid, "not a valid ZIP archive"},
		{"rejects an archive missing its first half", func(t *testing.T) []byte {
			b := artifacttest.DemoAPK(t).Bytes(t)
			return b[len(b)/2:]
		}, Limits{}, apperr.Invalid, "not a valid ZIP archive"},
		{"rejects a ZIP that is neither an APK nor an IPA", func(t *testing.T) []byte {
			return artifacttest.Zip(t, artifacttest.ZipEntry{Name: "README.txt", Data: []byte("hello")})
		}, Limits{}, apperr.Invalid, "neither an APK nor an IPA"},
		{"rejects an APK without a manifest", func(t *testing.T) []byte {
			return artifacttest.Zip(t, artifacttest.ZipEntry{Name: "classes.dex", Data: []byte("dex")}, artifacttest.ZipEntry{Name: resourcesName, Data: artifacttest.DemoResources()})
		}, Limits{}, apperr.Invalid, "neither an APK nor an IPA"},
		{"rejects a manifest bomb that declares its size", func(t *testing.T) []byte {
			return artifacttest.Zip(t, bombEntry(androidManifestName, 1<<30))
		}, Limits{}, apperr.TooLarge, `"AndroidManifest.xml" is larger than 4194304 bytes`},
		{"rejects a manifest bomb that understates its size", func(t *testing.T) []byte {
			return artifacttest.Zip(t, bombEntry(androidManifestName, 4096))
		}, Limits{}, apperr.Invalid, `"AndroidManifest.xml" is corrupt`},
		{"rejects an Info.plist bomb", func(t *testing.T) []byte {
			return artifacttest.Zip(t, bombEntry("Payload/Demo.app/Info.plist", 1<<30))
		}, Limits{}, apperr.TooLarge, "is larger than"},
		{"rejects resources over their limit", apkWith(func(*artifacttest.APKSpec) {}), Limits{MaxResourcesBytes: 256},
			apperr.TooLarge, `"resources.arsc" is larger than 256 bytes`},
		{"rejects more entries than the limit", apkWith(func(o *artifacttest.APKSpec) {
			for i := range 20 {
				o.Files[fmt.Sprintf("assets/%d", i)] = nil
			}
		}), Limits{MaxEntries: 10}, apperr.TooLarge, "more than 10 entries"},
		{"rejects a central directory over its limit", apkWith(func(o *artifacttest.APKSpec) {
			for i := range 2000 {
				o.Files[fmt.Sprintf("assets/%s/%d", strings.Repeat("x", 100), i)] = nil
			}
		}), Limits{MaxDirectoryBytes: 64 << 10}, apperr.TooLarge, "central directory is larger than 65536 bytes"},
		{"rejects duplicate manifests", func(t *testing.T) []byte {
			return artifacttest.Zip(t, artifacttest.ZipEntry{Name: androidManifestName, Data: manifest()}, artifacttest.ZipEntry{Name: androidManifestName, Data: manifest()})
		}, Limits{}, apperr.Invalid, `contains "AndroidManifest.xml" more than once`},
		{"rejects a path that climbs out of the archive", apkWith(func(o *artifacttest.APKSpec) {
			o.Files["../../etc/passwd"] = []byte("x")
		}), Limits{}, apperr.Invalid, "unsafe file name"},
		{"rejects a manifest name another tool would normalise", apkWith(func(o *artifacttest.APKSpec) {
			o.Files["./AndroidManifest.xml"] = manifest()
		}), Limits{}, apperr.Invalid, "unsafe file name"},
		{"rejects an absolute path", apkWith(func(o *artifacttest.APKSpec) { o.Files["/AndroidManifest.xml"] = nil }),
			Limits{}, apperr.Invalid, "unsafe file name"},
		{"rejects an encrypted manifest", func(t *testing.T) []byte {
			m := manifest()
			return artifacttest.Zip(t, artifacttest.ZipEntry{Name: androidManifestName, Raw: true, Data: m, Header: zip.FileHeader{
				Method: zip.Store, Flags: 0x1, CompressedSize64: uint64(len(m)), UncompressedSize64: uint64(len(m))}})
		}, Limits{}, apperr.Invalid, "is encrypted"},
		{"rejects an unsupported compression method", func(t *testing.T) []byte {
			return artifacttest.Zip(t, artifacttest.ZipEntry{Name: androidManifestName, Raw: true, Data: []byte("BZh9"), Header: zip.FileHeader{
				Method: 12, CompressedSize64: 4, UncompressedSize64: 4}})
		}, Limits{}, apperr.Invalid, "unsupported compression method"},
		{"rejects an entry whose checksum does not match", func(t *testing.T) []byte {
			m := manifest()
			return artifacttest.Zip(t, artifacttest.ZipEntry{Name: androidManifestName, Raw: true, Data: m, Header: zip.FileHeader{
				Method: zip.Store, CRC32: 1, CompressedSize64: uint64(len(m)), UncompressedSize64: uint64(len(m))}})
		}, Limits{}, apperr.Invalid, `"AndroidManifest.xml" is corrupt`},
		{"rejects a manifest that is not binary XML", func(t *testing.T) []byte {
			return artifacttest.Zip(t, artifacttest.ZipEntry{Name: androidManifestName, Data: []byte(`<manifest package="x"/>`)})
		}, Limits{}, apperr.Invalid, "not a valid compiled manifest"},
		{"rejects a manifest without versionCode", apkWith(func(o *artifacttest.APKSpec) { o.Manifest.Attrs = o.Manifest.Attrs[1:] }),
			Limits{}, apperr.Invalid, "android:versionCode must be a positive integer"},
		{"rejects an invalid package name", apkWith(func(o *artifacttest.APKSpec) {
			o.Manifest.Attrs[2] = artifacttest.StrAttr("package", 0, "com.example/../evil")
		}), Limits{}, apperr.Invalid, "not a valid package name"},
		{"rejects a non-integer CFBundleVersion", ipaWith(func(o *artifacttest.IPASpec) { o.Info["CFBundleVersion"] = "1.2.3" }),
			Limits{}, apperr.Invalid, `CFBundleVersion "1.2.3" is not a build number`},
		{"rejects a missing CFBundleShortVersionString", ipaWith(func(o *artifacttest.IPASpec) { delete(o.Info, "CFBundleShortVersionString") }),
			Limits{}, apperr.Invalid, "CFBundleShortVersionString is missing"},
		{"rejects an IPA with two apps", ipaWith(func(o *artifacttest.IPASpec) {
			o.Extra = []artifacttest.ZipEntry{{Name: "Payload/Other.app/Info.plist", Data: []byte("x")}}
		}), Limits{}, apperr.Invalid, "more than one app in Payload/"},
		{"rejects an Info.plist that is not a property list", func(t *testing.T) []byte {
			return artifacttest.Zip(t, artifacttest.ZipEntry{Name: "Payload/Demo.app/Info.plist", Data: randomBytes(t, 512)})
		}, Limits{}, apperr.Invalid, "Info.plist is not a valid property list"},
		{"rejects a file with both an Android and an iOS app", ipaWith(func(o *artifacttest.IPASpec) {
			o.Extra = []artifacttest.ZipEntry{{Name: androidManifestName, Data: manifest()}}
		}), Limits{}, apperr.Invalid, "both an Android and an iOS app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, err := inspectBytes(t, tt.file(t), tt.limits)
			if err == nil {
				t.Fatalf("Inspect accepted the file: %+v", md)
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("Inspect: %v; want code %s and a message containing %q", err, tt.code, tt.msg)
			}
		})
	}
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// failingReader fails every read that touches [from, to) with a storage error.
type failingReader struct {
	r        io.ReaderAt
	from, to int64
	err      error
}

func (f *failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off < f.to && off+int64(len(p)) > f.from {
		return 0, f.err
	}
	return f.r.ReadAt(p, off)
}

func TestInspectPassesReaderErrorsThrough(t *testing.T) {
	o := artifacttest.DemoAPK(t)
	o.Files["assets/padding.bin"] = randomBytes(t, 200<<10) // puts the manifest outside the tail
	b := o.Bytes(t)
	size := int64(len(b))
	unavailable := apperr.New(apperr.Unavailable, "object storage is unavailable")
	tests := []struct {
		name     string
		from, to int64
	}{
		{"keeps the storage error's code when the directory cannot be read", size - 10, size},
		{"keeps the storage error's code when an entry cannot be read", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &failingReader{r: bytes.NewReader(b), from: tt.from, to: tt.to, err: unavailable}
			_, err := Inspect(r, size, Limits{})
			if !errors.Is(err, unavailable) || apperr.CodeOf(err) != apperr.Unavailable {
				t.Fatalf("Inspect: %v; want the reader's unavailable error", err)
			}
		})
	}
}
