package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/loadtest"
	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
	"github.com/mportal/mportal/internal/testenv"
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

// updateBenchStart starts Main like benchStart, publishes app "bench" (Android build 100 and iOS
// build 100 on stable) as an ops user over HTTP, and returns the base URL and an employee's
// access token.
func updateBenchStart(b *testing.B) (base, employeeToken string) {
	b.Helper()
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
	logs := &benchLog{}
	m := NewMain(cfg, &benchLog{}, logs)
	m.Argon = &auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1} // sign-in cost is not measured here
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		b.Fatalf("start mportal: %v\nlogs:\n%s", err, logs)
	}
	b.Cleanup(func() {
		if err := m.Close(); err != nil {
			b.Errorf("close mportal: %v", err)
		}
	})
	base = "http://" + m.Addr()
	login := func(employeeNo string, roles ...auth.Role) string {
		u, _, err := m.users.Create(ctx, systemActor, directory.CreateUser{EmployeeNo: employeeNo, Name: "Bench " + employeeNo, Roles: roles})
		if err != nil {
			b.Fatal(err)
		}
		hash, err := auth.HashPassword(benchPassword, *m.Argon)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.users.SetPassword(ctx, u.ID, hash, false); err != nil {
			b.Fatal(err)
		}
		var out struct {
			AccessToken string `json:"access_token"`
		}
		benchCall(b, base, "POST", "/v1/auth/login", "", map[string]string{"login": employeeNo, "password": benchPassword, "device_id": "bench-" + employeeNo}, &out)
		return out.AccessToken
	}
	ops := login("BOPS", auth.RoleEmployee, auth.RoleOps)
	benchCall(b, base, "POST", "/v1/ops/apps", ops, map[string]string{
		"id": "bench", "name": "Bench", "android_package": "com.example.bench", "ios_bundle_id": "com.example.bench"}, nil)
	benchPublish(b, base, ops, "android", ".apk", artifacttest.APK{Package: "com.example.bench", Build: 100}.Bytes(b))
	benchPublish(b, base, ops, "ios", ".ipa", artifacttest.IPA{BundleID: "com.example.bench", Build: 100}.Bytes(b))
	return base, login(benchEmployeeNo, auth.RoleEmployee)
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

// benchCall sends a JSON request and decodes a 2xx answer into out (when not nil).
func benchCall(b *testing.B, base, method, path, token string, body, out any) {
	b.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(benchJSON(b, body)))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.Fatal(fmt.Errorf("%s %s: %w", method, path, err))
		}
	}
}
