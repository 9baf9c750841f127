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
func bombEntry(name string, claims uint64) zipEntry {
	data := zerosDeflate(1024)
	return zipEntry{name: name, raw: true, data: data, header: zip.FileHeader{
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
	manifest := func() []byte { return encodeAXML(defaultManifest(), true) }
	apkWith := func(mutate func(*apkOptions)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { o := defaultAPK(t); mutate(&o); return buildAPK(t, o) }
	}
	ipaWith := func(mutate func(*ipaOptions)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { o := defaultIPA(t); mutate(&o); return buildIPA(t, o) }
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
			b := buildAPK(t, defaultAPK(t))
			return b[:len(b)-10]
		}, Limits{}, apperr.Invalid, "not a valid ZIP archive"},
		{"rejects an archive missing its first half", func(t *testing.T) []byte {
			b := buildAPK(t, defaultAPK(t))
			return b[len(b)/2:]
		}, Limits{}, apperr.Invalid, "not a valid ZIP archive"},
		{"rejects a ZIP that is neither an APK nor an IPA", func(t *testing.T) []byte {
			return buildZip(t, zipEntry{name: "README.txt", data: []byte("hello")})
		}, Limits{}, apperr.Invalid, "neither an APK nor an IPA"},
		{"rejects an APK without a manifest", func(t *testing.T) []byte {
			return buildZip(t, zipEntry{name: "classes.dex", data: []byte("dex")}, zipEntry{name: resourcesName, data: defaultResources()})
		}, Limits{}, apperr.Invalid, "neither an APK nor an IPA"},
		{"rejects a manifest bomb that declares its size", func(t *testing.T) []byte {
			return buildZip(t, bombEntry(androidManifestName, 1<<30))
		}, Limits{}, apperr.TooLarge, `"AndroidManifest.xml" is larger than 4194304 bytes`},
		{"rejects a manifest bomb that understates its size", func(t *testing.T) []byte {
			return buildZip(t, bombEntry(androidManifestName, 4096))
		}, Limits{}, apperr.Invalid, `"AndroidManifest.xml" is corrupt`},
		{"rejects an Info.plist bomb", func(t *testing.T) []byte {
			return buildZip(t, bombEntry("Payload/Demo.app/Info.plist", 1<<30))
		}, Limits{}, apperr.TooLarge, "is larger than"},
		{"rejects resources over their limit", apkWith(func(*apkOptions) {}), Limits{MaxResourcesBytes: 256},
			apperr.TooLarge, `"resources.arsc" is larger than 256 bytes`},
		{"rejects more entries than the limit", apkWith(func(o *apkOptions) {
			for i := range 20 {
				o.files[fmt.Sprintf("assets/%d", i)] = nil
			}
		}), Limits{MaxEntries: 10}, apperr.TooLarge, "more than 10 entries"},
		{"rejects a central directory over its limit", apkWith(func(o *apkOptions) {
			for i := range 2000 {
				o.files[fmt.Sprintf("assets/%s/%d", strings.Repeat("x", 100), i)] = nil
			}
		}), Limits{MaxDirectoryBytes: 64 << 10}, apperr.TooLarge, "central directory is larger than 65536 bytes"},
		{"rejects duplicate manifests", func(t *testing.T) []byte {
			return buildZip(t, zipEntry{name: androidManifestName, data: manifest()}, zipEntry{name: androidManifestName, data: manifest()})
		}, Limits{}, apperr.Invalid, `contains "AndroidManifest.xml" more than once`},
		{"rejects a path that climbs out of the archive", apkWith(func(o *apkOptions) {
			o.files["../../etc/passwd"] = []byte("x")
		}), Limits{}, apperr.Invalid, "unsafe file name"},
		{"rejects a manifest name another tool would normalise", apkWith(func(o *apkOptions) {
			o.files["./AndroidManifest.xml"] = manifest()
		}), Limits{}, apperr.Invalid, "unsafe file name"},
		{"rejects an absolute path", apkWith(func(o *apkOptions) { o.files["/AndroidManifest.xml"] = nil }),
			Limits{}, apperr.Invalid, "unsafe file name"},
		{"rejects an encrypted manifest", func(t *testing.T) []byte {
			m := manifest()
			return buildZip(t, zipEntry{name: androidManifestName, raw: true, data: m, header: zip.FileHeader{
				Method: zip.Store, Flags: 0x1, CompressedSize64: uint64(len(m)), UncompressedSize64: uint64(len(m))}})
		}, Limits{}, apperr.Invalid, "is encrypted"},
		{"rejects an unsupported compression method", func(t *testing.T) []byte {
			return buildZip(t, zipEntry{name: androidManifestName, raw: true, data: []byte("BZh9"), header: zip.FileHeader{
				Method: 12, CompressedSize64: 4, UncompressedSize64: 4}})
		}, Limits{}, apperr.Invalid, "unsupported compression method"},
		{"rejects an entry whose checksum does not match", func(t *testing.T) []byte {
			m := manifest()
			return buildZip(t, zipEntry{name: androidManifestName, raw: true, data: m, header: zip.FileHeader{
				Method: zip.Store, CRC32: 1, CompressedSize64: uint64(len(m)), UncompressedSize64: uint64(len(m))}})
		}, Limits{}, apperr.Invalid, `"AndroidManifest.xml" is corrupt`},
		{"rejects a manifest that is not binary XML", func(t *testing.T) []byte {
			return buildZip(t, zipEntry{name: androidManifestName, data: []byte(`<manifest package="x"/>`)})
		}, Limits{}, apperr.Invalid, "not a valid compiled manifest"},
		{"rejects a manifest without versionCode", apkWith(func(o *apkOptions) { o.manifest.attrs = o.manifest.attrs[1:] }),
			Limits{}, apperr.Invalid, "android:versionCode must be a positive integer"},
		{"rejects an invalid package name", apkWith(func(o *apkOptions) {
			o.manifest.attrs[2] = strAttr("package", 0, "com.example/../evil")
		}), Limits{}, apperr.Invalid, "not a valid package name"},
		{"rejects a non-integer CFBundleVersion", ipaWith(func(o *ipaOptions) { o.info["CFBundleVersion"] = "1.2.3" }),
			Limits{}, apperr.Invalid, `CFBundleVersion "1.2.3" is not a build number`},
		{"rejects a missing CFBundleShortVersionString", ipaWith(func(o *ipaOptions) { delete(o.info, "CFBundleShortVersionString") }),
			Limits{}, apperr.Invalid, "CFBundleShortVersionString is missing"},
		{"rejects an IPA with two apps", ipaWith(func(o *ipaOptions) {
			o.extra = []zipEntry{{name: "Payload/Other.app/Info.plist", data: []byte("x")}}
		}), Limits{}, apperr.Invalid, "more than one app in Payload/"},
		{"rejects an Info.plist that is not a property list", func(t *testing.T) []byte {
			return buildZip(t, zipEntry{name: "Payload/Demo.app/Info.plist", data: randomBytes(t, 512)})
		}, Limits{}, apperr.Invalid, "Info.plist is not a valid property list"},
		{"rejects a file with both an Android and an iOS app", ipaWith(func(o *ipaOptions) {
			o.extra = []zipEntry{{name: androidManifestName, data: manifest()}}
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
	o := defaultAPK(t)
	o.files["assets/padding.bin"] = randomBytes(t, 200<<10) // puts the manifest outside the tail
	b := buildAPK(t, o)
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
