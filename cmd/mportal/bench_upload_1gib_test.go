package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	minio "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/media"
)

// BenchmarkUpload1GiB is issue #13's F1: a 1 GiB file through the tus endpoint (the whole
// server: auth, Fiber, tusd, the S3 store, MinIO) against MinIO's own PutObject of the same file
// (minio-go, the same MinIO, loopback). It reports both throughputs, their ratio (target >= 0.8)
// and the peak resident set of this process during the tus upload (VmHWM, reset just before
// it through /proc/self/clear_refs): server and tus client together, so an upper bound of the
// server's (target < 150 MB); start-rss-MB is the resident set when the upload starts. The client streams each PATCH from the file, without buffering.
// The file is generated in a temporary directory and removed when the benchmark ends.
// Run: deploy/dev/test.sh --bench -bench Upload1GiB -benchtime 1x ./cmd/mportal
func BenchmarkUpload1GiB(b *testing.B) {
	const size, chunk = 1 << 30, 8 << 20
	const purpose = "bench_1gib"
	m := benchMain(b, nil)
	done := &completions{}
	m.uploads.Register(upload.Purpose{Name: purpose, MaxSize: size, ContentTypes: []string{"application/octet-stream"},
		Authorize: func(context.Context, *auth.Principal, map[string]string) error { return nil }, Complete: done.add})
	base := "http://" + m.Addr()
	token := benchUser(b, m, benchEmployeeNo, "bench-phone-0", auth.RoleEmployee)
	file := bigFile(b, size)
	defer func() { _ = file.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	client, bucket := putClient(b, m)

	var tusTime, putTime time.Duration
	var peakRSS, idleRSS int64
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		resetPeakRSS(b)
		idleRSS = max(idleRSS, procStatusBytes(b, "VmRSS:"))
		start := time.Now()
		tusUpload(ctx, b, base, token, purpose, file, size, chunk)
		tusTime += time.Since(start)
		peakRSS = max(peakRSS, procStatusBytes(b, "VmHWM:"))

		start = time.Now()
		if _, err := client.PutObject(ctx, bucket, "bench/put-1gib", io.NewSectionReader(file, 0, size), size,
			minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
			b.Fatal(err)
		}
		putTime += time.Since(start)
		if err := client.RemoveObject(ctx, bucket, "bench/put-1gib", minio.RemoveObjectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(tusTime), "tus-MB/s")
	b.ReportMetric(mbps(putTime), "put-MB/s")
	b.ReportMetric(putTime.Seconds()/tusTime.Seconds(), "tus/put")
	b.ReportMetric(float64(peakRSS)/1e6, "peak-rss-MB")
	b.ReportMetric(float64(idleRSS)/1e6, "start-rss-MB")
	if n := len(done.list()); n != b.N {
		b.Fatalf("%d completions for %d uploads", n, b.N)
	}
	removeTusObjects(ctx, b, client, bucket)
}

// tusUpload creates an upload and sends the file in PATCH requests of chunk bytes, each read
// from the file as it is sent.
func tusUpload(ctx context.Context, b *testing.B, base, token, purpose string, file *os.File, size, chunk int64) {
	send := func(method, url string, h map[string]string, body io.Reader) *http.Response {
		req, err := http.NewRequestWithContext(ctx, method, url, body)
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
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}
	resp := send("POST", base+"/v1/uploads/", map[string]string{"Upload-Length": strconv.FormatInt(size, 10),
		"Upload-Metadata": upload.EncodeMetadata(map[string]string{"purpose": purpose, "filetype": "application/octet-stream"})}, nil)
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("create: status %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	for off := int64(0); off < size; off += chunk {
		n := min(chunk, size-off)
		req := io.NewSectionReader(file, off, n)
		resp := send("PATCH", loc, map[string]string{"Upload-Offset": strconv.FormatInt(off, 10),
			"Content-Type": "application/offset+octet-stream", "Content-Length": strconv.FormatInt(n, 10)}, req)
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("PATCH at %d: status %d", off, resp.StatusCode)
		}
	}
}

// bigFile writes size random bytes to a file in the benchmark's temporary directory (removed
// when it ends) and returns it open.
func bigFile(b *testing.B, size int64) *os.File {
	f, err := os.Create(filepath.Join(b.TempDir(), "1gib.bin"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	return f
}

// putClient is a minio-go client of the server's MinIO and its uploads bucket.
func putClient(b *testing.B, m *Main) (*minio.Client, string) {
	c, err := minio.New(m.Config.MinIOEndpoint, &minio.Options{
		Creds: credentials.NewStaticV4(m.Config.MinIOAccessKey, m.Config.MinIOSecretKey, ""), Region: m.Config.MinIORegion})
	if err != nil {
		b.Fatal(err)
	}
	return c, m.store.BucketName(media.Uploads)
}

// removeTusObjects deletes what the tus uploads left in the bucket.
func removeTusObjects(ctx context.Context, b *testing.B, c *minio.Client, bucket string) {
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: upload.ObjectPrefix, Recursive: true}) {
		if o.Err != nil {
			b.Error(o.Err)
			return
		}
		if err := c.RemoveObject(ctx, bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			b.Error(err)
		}
	}
}

// resetPeakRSS resets this process's VmHWM to its current resident set (Linux clear_refs 5).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset peak RSS: %v", err)
	}
}

// procStatusBytes reads a size from /proc/self/status: "VmHWM:" (the peak resident set since
// the last reset) or "VmRSS:" (the current one).
func procStatusBytes(b *testing.B, field string) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
