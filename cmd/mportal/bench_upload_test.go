package main

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/internal/upload"
)

// BenchmarkUploadThroughAPI sends a 64 MiB file through the whole server (auth, Fiber, the
// adaptor, tusd, MinIO) in 8 MiB PATCH chunks, the largest the default body limit allows, and
// reports throughput and the peak heap seen while it ran (client and server share the process;
// idle-heap-MiB is the heap before the first upload).
func BenchmarkUploadThroughAPI(b *testing.B) {
	const size, chunk = 64 << 20, 8 << 20
	env := map[string]string{
		"MPORTAL_LISTEN_ADDR":         "127.0.0.1:0",
		"MPORTAL_DATA_DIR":            b.TempDir(),
		"MPORTAL_MONGODB_URI":         testenv.MongoURI(b),
		"MPORTAL_MONGODB_DATABASE":    testenv.RandomName("bench_"),
		"MPORTAL_MINIO_ENDPOINT":      testenv.MinIOEndpoint(b),
		"MPORTAL_MINIO_ACCESS_KEY":    testenv.MinIOAccessKey,
		"MPORTAL_MINIO_SECRET_KEY":    testenv.MinIOSecretKey,
		"MPORTAL_MINIO_BUCKET_PREFIX": testenv.RandomName("bench-") + "-",
		"MPORTAL_LOG_LEVEL":           "warn",
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	m := NewMain(cfg, &benchLog{}, &benchLog{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	done := &completions{}
	m.uploads.Register(upload.Purpose{Name: e2ePurpose, MaxSize: size, ContentTypes: []string{"image/png"},
		Authorize: func(context.Context, *auth.Principal, map[string]string) error { return nil }, Complete: done.add})
	u, _, err := m.users.Create(ctx, systemActor, directory.CreateUser{EmployeeNo: benchEmployeeNo, Name: "Bench", Roles: []auth.Role{auth.RoleEmployee}})
	if err != nil {
		b.Fatal(err)
	}
	hash, err := auth.HashPassword(benchPassword, auth.DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.users.SetPassword(ctx, u.ID, hash, false); err != nil {
		b.Fatal(err)
	}
	base := "http://" + m.Addr()
	token := benchSignIn(b, base)
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
	var peak atomic.Uint64
	stop := sampleHeap(&peak)
	defer stop()
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
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(idle.HeapInuse)/(1<<20), "idle-heap-MiB")
	if n := len(done.list()); n != b.N {
		b.Fatalf("%d completions for %d uploads", n, b.N)
	}
}

// sampleHeap records the largest heap in use until the returned function is called.
func sampleHeap(peak *atomic.Uint64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
