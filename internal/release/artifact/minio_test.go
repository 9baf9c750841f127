package artifact

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"

	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// countingReader counts the calls and bytes of ReadAt: each call on media's ReaderAt is one
// ranged GET.
type countingReader struct {
	r            io.ReaderAt
	calls, bytes atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.calls.Add(1)
	c.bytes.Add(int64(n))
	return n, err
}

// TestInspectReadsFromObjectStorageWithRangedReads stores a 20 MiB APK in a real MinIO and
// inspects it through media's ReaderAt: the metadata must come out right while only a few
// kilobytes cross the network.
func TestInspectReadsFromObjectStorageWithRangedReads(t *testing.T) {
	store := testenv.Store(t, "art")
	o := artifacttest.DemoAPK(t)
	// A large native library stored uncompressed, as APKs store .so files, ahead of the
	// manifest.
	o.Extra = []artifacttest.ZipEntry{{Name: "lib/arm64-v8a/libgame.so", Data: randomBytes(t, 20<<20), Store: true}}
	b := o.Bytes(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := store.Put(ctx, media.Artifacts, "android/demo/42.apk", bytes.NewReader(b), int64(len(b)), ""); err != nil {
		t.Fatal(err)
	}

	r, size, err := store.ReaderAt(ctx, media.Artifacts, "android/demo/42.apk")
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingReader{r: r}
	md, err := Inspect(counted, size, Limits{})
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if md.PackageID != artifacttest.DemoPackage || md.BuildNumber != 42 || md.DisplayName != artifacttest.DemoLabelRoot || !bytes.Equal(md.Icon, o.Files[artifacttest.DemoIconXXXH]) {
		t.Errorf("Inspect through MinIO read %s/%d/%s with a %d-byte icon", md.PackageID, md.BuildNumber, md.DisplayName, len(md.Icon))
	}
	// The tail read (64 KiB), the manifest, resources and icon with their local headers.
	if read := counted.bytes.Load(); read > 128<<10 || read*100 > size {
		t.Errorf("Inspect read %d of %d bytes; want a small fraction", read, size)
	}
	if calls := counted.calls.Load(); calls > 12 {
		t.Errorf("Inspect made %d ranged reads; want a handful", calls)
	}
	t.Logf("read %d bytes of %d in %d ranged GETs", counted.bytes.Load(), size, counted.calls.Load())

	t.Run("hashes the object in a few large ranged reads", func(t *testing.T) {
		counted := &countingReader{r: r}
		got, err := SHA256(counted, size)
		want := sha256.Sum256(b)
		if err != nil || got != hex.EncodeToString(want[:]) {
			t.Fatalf("SHA256 = %q, %v; want %x", got, err, want)
		}
		if calls := counted.calls.Load(); calls > size/hashChunk+1 {
			t.Errorf("SHA256 made %d ranged reads for %d bytes", calls, size)
		}
	})
}
