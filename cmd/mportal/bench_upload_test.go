package main

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/loadtest"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/upload"
)

// BenchmarkUploadThroughAPI sends a 64 MiB file through the whole server (auth, Fiber, the
// adaptor, tusd, MinIO) in 8 MiB PATCH chunks, the largest the default body limit allows, and
// reports throughput and the peak heap seen while it ran (client and server share the process;
// idle-heap-MiB is the heap before the first upload).
func BenchmarkUploadThroughAPI(b *testing.B) {
	const size, chunk = 64 << 20, 8 << 20
	m := benchMain(b, nil)
	done := &completions{}
	m.uploads.Register(upload.Purpose{Name: e2ePurpose, MaxSize: size, ContentTypes: []string{"image/png"},
		Authorize: func(context.Context, *auth.Principal, map[string]string) error { return nil }, Complete: done.add})
	base := "http://" + m.Addr()
	token := benchUser(b, m, benchEmployeeNo, "bench-phone-0", auth.RoleEmployee)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	send := func(method, url string, h map[string]string, body []byte) *http.Response {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Tus-Resumable", "1.0.0")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	buf := make([]byte, chunk) // the client's one chunk buffer, reused
	runtime.GC()
	var idle runtime.MemStats
	runtime.ReadMemStats(&idle)
	peakHeap := loadtest.SampleHeap()
	defer peakHeap()
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		resp := send("POST", base+"/v1/uploads/", map[string]string{"Upload-Length": strconv.Itoa(size),
			"Upload-Metadata": upload.EncodeMetadata(map[string]string{"purpose": e2ePurpose, "filetype": "image/png"})}, nil)
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("create: status %d", resp.StatusCode)
		}
		loc := resp.Header.Get("Location")
		for off := 0; off < size; off += chunk {
			for i := range buf {
				buf[i] = byte((off + i) * 7)
			}
			if off == 0 {
				copy(buf, "\x89PNG\r\n\x1a\n")
			}
			resp := send("PATCH", loc, map[string]string{"Upload-Offset": strconv.Itoa(off),
				"Content-Type": "application/offset+octet-stream"}, buf)
			if resp.StatusCode != http.StatusNoContent {
				b.Fatalf("PATCH at %d: status %d", off, resp.StatusCode)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peakHeap())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(idle.HeapInuse)/(1<<20), "idle-heap-MiB")
	if n := len(done.list()); n != b.N {
		b.Fatalf("%d completions for %d uploads", n, b.N)
	}
}
