package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	minio "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/media"
)

// BenchmarkUpload1GiB is issue #13's F1: a 1 GiB file through the tus endpoint against MinIO's
// own PutObject of the same file (minio-go, the same MinIO, loopback). The server runs in a
// child process (TestHelperServeUploads: this test binary running Main, the production wiring),
// so that its peak resident set (VmHWM of /proc/<pid>/status, over the child's whole life:
// start, one login, every upload) is the server's alone; target < 150 MB. The client streams
// the file from disk in PATCH requests of chunk bytes (the whole file in one by default, as a
// tus client without a chunk size does; MPORTAL_BENCH_TUS_CHUNK_MIB sets another). It reports
// the throughputs and the ratios (target >= 0.8) to PutObject as minio-go sends it over plain
// HTTP (SHA-256 of every chunk signed) and with an unsigned payload (DisableContentSha256, as
// the tus store sends its parts). The file is generated in a temporary
// directory and removed when the benchmark ends.
// Run: deploy/dev/test.sh --bench -bench Upload1GiB -benchtime 1x ./cmd/mportal
func BenchmarkUpload1GiB(b *testing.B) {
	const size = 1 << 30
	chunk := int64(size)
	if v := os.Getenv("MPORTAL_BENCH_TUS_CHUNK_MIB"); v != "" {
		mib, err := strconv.Atoi(v)
		if err != nil || mib <= 0 {
			b.Fatalf("MPORTAL_BENCH_TUS_CHUNK_MIB=%q: want a positive number", v)
		}
		chunk = int64(mib) << 20
	}
	env := benchEnv(b, true)
	srv := startUploadServer(b, env)
	file := bigFile(b, size)
	defer func() { _ = file.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	client, err := minio.New(env["MPORTAL_MINIO_ENDPOINT"], &minio.Options{
		Creds: credentials.NewStaticV4(env["MPORTAL_MINIO_ACCESS_KEY"], env["MPORTAL_MINIO_SECRET_KEY"], "")})
	if err != nil {
		b.Fatal(err)
	}
	var token struct {
		AccessToken string `json:"access_token"`
	}
	benchCall(b, srv.base, http.MethodPost, "/v1/auth/login", "",
		map[string]string{"login": benchEmployeeNo, "password": benchPassword, "device_id": "bench-phone-0"}, &token)

	var tusTime, putTime, unsignedTime time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		tusUpload(ctx, b, srv.base, token.AccessToken, benchUploadPurpose, file, size, chunk)
		tusTime += time.Since(start)

		// PutObject as minio-go sends it over plain HTTP (every chunk's SHA-256 signed), then with
		// an unsigned payload, as the tus store sends its parts.
		for _, unsigned := range []bool{false, true} {
			start = time.Now()
			if _, err := client.PutObject(ctx, srv.bucket, "bench/put-1gib", io.NewSectionReader(file, 0, size), size,
				minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: unsigned}); err != nil {
				b.Fatal(err)
			}
			if unsigned {
				unsignedTime += time.Since(start)
			} else {
				putTime += time.Since(start)
			}
			if err := client.RemoveObject(ctx, srv.bucket, "bench/put-1gib", minio.RemoveObjectOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(tusTime), "tus-MB/s")
	b.ReportMetric(mbps(putTime), "put-MB/s")
	b.ReportMetric(mbps(unsignedTime), "put-unsigned-MB/s")
	b.ReportMetric(putTime.Seconds()/tusTime.Seconds(), "tus/put")
	b.ReportMetric(unsignedTime.Seconds()/tusTime.Seconds(), "tus/put-unsigned")
	b.ReportMetric(procStatusMiB(b, srv.pid, "VmHWM")*(1<<20)/1e6, "server-peak-rss-MB")
	b.ReportMetric(srv.startRSS, "server-start-rss-MB")
	removeTusObjects(ctx, b, client, srv.bucket)
}

// benchUploadPurpose is the upload purpose TestHelperServeUploads registers: any bytes, up to
// 2 GiB, completed without a domain behind it.
const benchUploadPurpose = "bench_upload"

// uploadServer is a child process running TestHelperServeUploads.
type uploadServer struct {
	base, bucket string
	pid          int
	startRSS     float64 // MB, once it is ready
}

// startUploadServer starts the server in a child process with env and waits until it is ready
// (its "ready <addr> <bucket>" line on stdout). It is stopped (SIGINT) when b ends.
func startUploadServer(b *testing.B, env map[string]string) uploadServer {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServeUploads$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "MPORTAL_TEST_HELPER_UPLOADS=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	ready := make(chan []string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if f := strings.Fields(s.Text()); len(f) == 3 && f[0] == "ready" {
				ready <- f[1:]
			}
		}
	}()
	select {
	case f := <-ready:
		return uploadServer{base: "http://" + f[0], bucket: f[1], pid: cmd.Process.Pid,
			startRSS: procStatusMiB(b, cmd.Process.Pid, "VmRSS") * (1 << 20) / 1e6}
	case <-time.After(3 * time.Minute):
		b.Fatal("the upload server did not start")
	}
	return uploadServer{}
}

// TestHelperServeUploads is the server of BenchmarkUpload1GiB when run as its child
// (MPORTAL_TEST_HELPER_UPLOADS=1; otherwise it does nothing): Main from the environment's
// configuration, with the benchmark's upload purpose and user (a cheap password hash: sign-in
// is not measured), until SIGINT.
func TestHelperServeUploads(t *testing.T) {
	if os.Getenv("MPORTAL_TEST_HELPER_UPLOADS") != "1" {
		return
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, io.Discard, os.Stderr)
	m.Argon = &auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	m.uploads.Register(upload.Purpose{Name: benchUploadPurpose, MaxSize: 2 << 30, ContentTypes: []string{"application/octet-stream"},
		Authorize: func(context.Context, *auth.Principal, map[string]string) error { return nil },
		Complete:  func(context.Context, *auth.Principal, upload.Info) error { return nil }})
	u, _, err := m.users.Create(ctx, systemActor, directory.CreateUser{EmployeeNo: benchEmployeeNo, Name: "Bench", Roles: []auth.Role{auth.RoleEmployee}})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword(benchPassword, *m.Argon)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.users.SetPassword(ctx, u.ID, hash, false); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ready %s %s\n", m.Addr(), m.store.BucketName(media.Uploads))
	<-ctx.Done()
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
		if v, ok := h["Content-Length"]; ok {
			req.ContentLength, _ = strconv.ParseInt(v, 10, 64) // sent as such, not chunked
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
