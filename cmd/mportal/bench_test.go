package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/loadtest"
	"github.com/mportal/mportal/internal/testenv"
)

// BenchmarkServer loads a whole mportal (Main on a loopback port, the test FerretDB and MinIO,
// production argon2 cost) with the closed-loop generator in internal/loadtest, endpoint by
// endpoint, and compares each with a bare Fiber JSON handler on the same machine. Each
// sub-benchmark sends b.N requests, so ns/op is wall time per request at that concurrency
// (1/throughput) and -benchtime sets the length of a run; req/s, p50-ms and p99-ms are reported,
// and x-baseline is req/s as a fraction of the baseline's when the baseline ran first.
func BenchmarkServer(b *testing.B) {
	s := benchStart(b)
	var baselineRPS float64
	b.Run("baseline", func(b *testing.B) {
		base, err := loadtest.StartBaseline()
		if err != nil {
			b.Fatal(err)
		}
		defer base.Close()
		baselineRPS = benchLoad(b, loadtest.Config{URL: base.URL, Concurrency: benchConcurrency}, 0)
	})
	b.Run("me", func(b *testing.B) { // JWT verify, cached session check, user read by _id
		benchLoad(b, loadtest.Config{URL: s.base + "/v1/me", Headers: s.bearer(), Concurrency: benchConcurrency}, baselineRPS)
	})
	b.Run("device_checkin", func(b *testing.B) { // the user's most devices: 3–4 workers share each one's lock
		urls := make([]string, min(benchConcurrency, directory.MaxDevicesPerUser))
		for i := range urls {
			urls[i] = fmt.Sprintf("%s/v1/devices/bench-phone-%d", s.base, i)
		}
		body := benchJSON(b, map[string]any{
			"platform": "android", "model": "Pixel 8", "os_version": "15", "app_id": "com.example.portal",
			"app_version": "2.3.0", "build_number": 230, "channel": "stable", "locale": "zh-CN",
			"timezone": "Asia/Shanghai", "push_enabled": false,
		})
		benchLoad(b, loadtest.Config{URLs: urls, Method: http.MethodPut, Headers: s.bearer(), Body: body,
			Concurrency: benchConcurrency}, baselineRPS)
	})
	b.Run("login", func(b *testing.B) { // argon2id at DefaultArgon2, a session insert, a token pair
		body := benchJSON(b, map[string]string{"login": benchEmployeeNo, "password": benchPassword, "device_id": "bench-login"})
		headers := http.Header{"Content-Type": {"application/json"}}
		// Each verification holds 19 MiB and a core: more workers than cores only queue.
		benchLoad(b, loadtest.Config{URL: s.base + "/v1/auth/login", Method: http.MethodPost, Headers: headers,
			Body: body, Concurrency: 2 * runtime.GOMAXPROCS(0)}, baselineRPS)
	})
}

const (
	benchConcurrency = 64
	// benchMaxRun caps one run, whatever b.N the framework asks for.
	benchMaxRun     = 30 * time.Second
	benchEmployeeNo = "B1001"
	benchPassword   = "bench-passphrase-1"
)

// reportLoad fails the benchmark on any error or non-2xx answer of a load run and reports its
// throughput and latency.
func reportLoad(b *testing.B, rep *loadtest.Report) {
	b.Helper()
	if rep.Errors > 0 || rep.Non2xx > 0 {
		b.Fatalf("%d errors (first: %s), %d non-2xx responses: %v", rep.Errors, rep.FirstError, rep.Non2xx, rep.Statuses)
	}
	b.ReportMetric(rep.RPS, "req/s")
	b.ReportMetric(float64(rep.P50)/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(rep.P99)/float64(time.Millisecond), "p99-ms")
}

// benchLoad sends b.N requests as cfg says, fails on any error or non-2xx response, reports the
// figures and returns the requests per second.
func benchLoad(b *testing.B, cfg loadtest.Config, baselineRPS float64) float64 {
	b.Helper()
	cfg.MaxRequests, cfg.Duration = int64(b.N), benchMaxRun
	b.ResetTimer()
	rep, err := loadtest.Run(context.Background(), cfg)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	reportLoad(b, rep)
	if baselineRPS > 0 {
		b.ReportMetric(rep.RPS/baselineRPS, "x-baseline")
	}
	return rep.RPS
}

// benchServer is a running mportal with one signed-in employee.
type benchServer struct {
	base  string
	token string
}

func (s *benchServer) bearer() http.Header {
	return http.Header{"Authorization": {"Bearer " + s.token}, "Content-Type": {"application/json"}}
}

// benchStart starts Main with the production password cost and a default session recheck,
// creates an employee through the directory as the system, and signs them in over HTTP.
func benchStart(b *testing.B) *benchServer {
	b.Helper()
	m := benchMain(b, nil)
	return &benchServer{base: "http://" + m.Addr(), token: benchUser(b, m, benchEmployeeNo, "bench-phone-0", auth.RoleEmployee)}
}

func benchJSON(b *testing.B, v any) []byte {
	b.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// benchLog collects the server's output; the server writes from many goroutines.
type benchLog = testenv.LogBuffer
