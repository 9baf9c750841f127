package media_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/media"
)

func TestReaderAtReadsAcrossOffsets(t *testing.T) {
	f := newFixture(t)
	data := randomBytes(t, 100_000)
	f.put(t, media.Artifacts, "builds/blob.bin", data)
	ra, size, err := f.store.ReaderAt(ctx(t), media.Artifacts, "builds/blob.bin")
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(data)) {
		t.Fatalf("size = %d, want %d", size, len(data))
	}
	cases := []struct {
		name    string
		off     int64
		len     int
		wantN   int
		wantEOF bool
	}{
		{"reads the first bytes", 0, 10, 10, false},
		{"reads a range in the middle", 40_000, 5000, 5000, false},
		{"reads the whole object", 0, 100_000, 100_000, false},
		{"reads up to the last byte exactly", 99_990, 10, 10, false},
		{"reads a short tail and reports EOF", 99_990, 50, 10, true},
		{"reports EOF at the end", 100_000, 10, 0, true},
		{"reports EOF past the end", 200_000, 10, 0, true},
		{"reads nothing into an empty buffer", 50, 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := make([]byte, tc.len)
			n, err := ra.ReadAt(p, tc.off)
			if n != tc.wantN {
				t.Fatalf("n = %d, want %d", n, tc.wantN)
			}
			if tc.wantEOF && err != io.EOF || !tc.wantEOF && err != nil {
				t.Fatalf("err = %v, want EOF %v", err, tc.wantEOF)
			}
			if tc.wantN > 0 && !bytes.Equal(p[:n], data[tc.off:tc.off+int64(n)]) {
				t.Fatal("read the wrong bytes")
			}
		})
	}
	t.Run("rejects a negative offset", func(t *testing.T) {
		_, err := ra.ReadAt(make([]byte, 1), -1)
		wantCode(t, err, apperr.Invalid)
	})
	t.Run("serves concurrent readers", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for i := range 32 {
			wg.Go(func() {
				off := int64(i * 3000)
				p := make([]byte, 2500)
				if _, err := ra.ReadAt(p, off); err != nil {
					errs <- err
				} else if !bytes.Equal(p, data[off:off+2500]) {
					errs <- fmt.Errorf("reader %d read the wrong bytes", i)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestReaderAtOpensZipArchives(t *testing.T) {
	f := newFixture(t)
	files := map[string][]byte{
		"AndroidManifest.xml": []byte("<manifest package=\"com.mportal.app\"/>"),
		"classes.dex":         randomBytes(t, 300_000),
		"res/raw/readme.txt":  bytes.Repeat([]byte("mportal "), 20_000),
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		method := zip.Deflate
		if name == "classes.dex" {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.put(t, media.Artifacts, "builds/android/1.0.0/app.apk", buf.Bytes())

	ra, size, err := f.store.ReaderAt(ctx(t), media.Artifacts, "builds/android/1.0.0/app.apk")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		t.Fatalf("zip.NewReader: %v", err)
	}
	if len(zr.File) != len(files) {
		t.Fatalf("archive lists %d files, want %d", len(zr.File), len(files))
	}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatalf("open %s: %v", zf.Name, err)
		}
		if got := readAll(t, rc); !bytes.Equal(got, files[zf.Name]) {
			t.Fatalf("%s: read %d bytes that differ from the %d written", zf.Name, len(got), len(files[zf.Name]))
		}
	}
}

func TestReaderAtRefusesAReplacedObject(t *testing.T) {
	f := newFixture(t)
	f.put(t, media.Artifacts, "builds/app.ipa", []byte("first build"))
	ra, _, err := f.store.ReaderAt(ctx(t), media.Artifacts, "builds/app.ipa")
	if err != nil {
		t.Fatal(err)
	}
	f.put(t, media.Artifacts, "builds/app.ipa", []byte("second build, longer"))
	_, err = ra.ReadAt(make([]byte, 4), 0)
	wantCode(t, err, apperr.Conflict)
	if errors.Is(err, io.EOF) {
		t.Fatal("a conflict must not look like the end of the object")
	}
}
