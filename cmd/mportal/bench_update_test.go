package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/loadtest"
	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
)

// BenchmarkUpdateCheck loads GET /v1/apps/{app}/update (a real bearer token, the cached session
// check, the in-memory view, the rollout decision, presigned links and JSON) with the closed-loop
// generator, for Android and iOS, next to a bare Fiber JSON handler at the same concurrency. The
// target is at least half the baseline's requests per second (x-baseline >= 0.5).
func BenchmarkUpdateCheck(b *testing.B) {
	base, token := updateBenchStart(b)
	var baselineRPS float64
	b.Run("baseline", func(b *testing.B) {
		bl, err := loadtest.StartBaseline()
		if err != nil {
			b.Fatal(err)
		}
		defer bl.Close()
		baselineRPS = benchLoad(b, loadtest.Config{URL: bl.URL, Concurrency: benchConcurrency}, 0)
	})
	headers := http.Header{"Authorization": {"Bearer " + token}}
	for _, platform := range []string{"android", "ios"} {
		b.Run(platform, func(b *testing.B) {
			url := base + "/v1/apps/bench/update?platform=" + platform + "&build=90&locale=en"
			benchLoad(b, loadtest.Config{URL: url, Headers: headers, Concurrency: benchConcurrency}, baselineRPS)
		})
	}
}

// BenchmarkUpdateCheckHandler is the server's own work per update check, without the network:
// the Fiber app's handler (the access log at info level through the buffered writer to
// /dev/null, as the binary writes its stderr; metrics; the bearer token; the check) called
// with one reused fasthttp request context, as fasthttp's connection loop does. Its ns/op and
// allocs/op hold still where BenchmarkUpdateCheckDeployed's requests/s follow the machine; the
// gap between them is what the kernel and fasthttp's connection handling cost.
func BenchmarkUpdateCheckHandler(b *testing.B) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { devNull.Close() })
	m := benchMainLogging(b, &auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}, "info", devNull)
	token := updateBenchPrepare(b, m)
	handler := m.server.App().Handler()
	var req fasthttp.Request
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI("/v1/apps/bench/update?platform=android&build=90&locale=en")
	req.Header.SetHost("127.0.0.1")
	req.Header.Set(fiber.HeaderAuthorization, "Bearer "+token)
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, remote, nil)
		for pb.Next() {
			ctx.Response.Reset()
			handler(&ctx)
			if ctx.Response.StatusCode() != fiber.StatusOK {
				b.Errorf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				return
			}
		}
	})
}

// updateBenchStart starts Main with a cheap password cost, publishes app "bench" (Android build 100 and iOS
// build 100 on stable) as an ops user over HTTP, and returns the base URL and an employee's
// access token.
func updateBenchStart(b *testing.B) (base, employeeToken string) {
	b.Helper()
	m := benchMain(b, &auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}) // sign-in cost is not measured here
	return "http://" + m.Addr(), updateBenchPrepare(b, m)
}

// updateBenchPrepare publishes app "bench" on m (Android build 100 and iOS build 100 on stable)
// as an ops user over HTTP and returns an employee's access token.
func updateBenchPrepare(b *testing.B, m *Main) (employeeToken string) {
	b.Helper()
	base := "http://" + m.Addr()
	login := func(employeeNo string, roles ...auth.Role) string {
		return benchUser(b, m, employeeNo, "bench-"+employeeNo, roles...)
	}
	ops := login("BOPS", auth.RoleEmployee, auth.RoleOps)
	benchCall(b, base, "POST", "/v1/ops/apps", ops, map[string]string{
		"id": "bench", "name": "Bench", "android_package": "com.example.bench", "ios_bundle_id": "com.example.bench"}, nil)
	benchPublish(b, base, ops, "android", ".apk", artifacttest.APK{Package: "com.example.bench", Build: 100}.Bytes(b))
	benchPublish(b, base, ops, "ios", ".ipa", artifacttest.IPA{BundleID: "com.example.bench", Build: 100}.Bytes(b))
	return login(benchEmployeeNo, auth.RoleEmployee)
}

// benchPublish uploads a build of app "bench" and publishes it to stable at 100%.
func benchPublish(b *testing.B, base, ops, platform, ext string, data []byte) {
	b.Helper()
	var tk struct {
		UploadKey string `json:"upload_key"`
		UploadURL string `json:"upload_url"`
		Method    string `json:"method"`
	}
	benchCall(b, base, "POST", "/v1/ops/apps/bench/builds/uploads", ops, map[string]any{"platform": platform, "size": len(data), "filename": "app" + ext}, &tk)
	req, err := http.NewRequest(tk.Method, tk.UploadURL, bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	var build struct {
		ID string `json:"id"`
	}
	benchCall(b, base, "POST", "/v1/ops/apps/bench/builds", ops, map[string]any{"upload_key": tk.UploadKey,
		"notes": map[string]string{"en": "Faster start", "zh-CN": "启动更快"}}, &build)
	benchCall(b, base, "POST", "/v1/ops/apps/bench/releases", ops, map[string]any{
		"platform": platform, "channel": "stable", "build_id": build.ID, "percent": 100}, nil)
}
