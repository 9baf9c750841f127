package upload_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/mportal/mportal/internal/loadtest"
)

// BenchmarkUpload64MiB sends a 64 MiB file through the tus handler to MinIO in one PATCH (as a
// client with a large chunk size does over net/http) and reports throughput and the peak heap
// seen while it ran: tusd streams the body through part files on disk, so the heap stays far
// below the file's size.
func BenchmarkUpload64MiB(b *testing.B) {
	const size = 64 << 20
	f := newFixture(b)
	b.SetBytes(size)
	peakHeap := loadtest.SampleHeap()
	defer peakHeap()
	b.ResetTimer()
	for i := range b.N {
		loc := f.create(b, "bench", size, meta("bench"))
		req, err := http.NewRequestWithContext(ctx(b), http.MethodPatch, loc, &pngStream{left: size})
		if err != nil {
			b.Fatal(err)
		}
		req.ContentLength = size
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set(userHeader, "bench")
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(size) {
			b.Fatalf("upload %d: status %d, offset %s", i, resp.StatusCode, resp.Header.Get("Upload-Offset"))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peakHeap())/(1<<20), "peak-heap-MiB")
	if n := len(f.completedUploads()); n != b.N {
		b.Fatalf("%d completions for %d uploads", n, b.N)
	}
}

// pngStream produces a PNG-looking body of left bytes without holding it in memory.
type pngStream struct {
	left, sent int
}

func (s *pngStream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), s.left)
	for i := range n {
		p[i] = byte((s.sent + i) * 7)
	}
	if s.sent == 0 {
		copy(p[:n], "\x89PNG\r\n\x1a\n")
	}
	s.sent += n
	s.left -= n
	return n, nil
}
