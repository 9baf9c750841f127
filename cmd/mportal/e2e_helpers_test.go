package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/contracttest"
	"github.com/mportal/mportal/internal/testenv"
)

// contract is the spec every end-to-end exchange is validated against; TestMain checks that the
// suite exercised every operation in it.
var (
	contractMu sync.Mutex
	contract   *contracttest.Spec
)

func TestMain(m *testing.M) { testenv.Main(coverageCheck{m}) }

// coverageCheck fails a full run (no -run filter) that left an operation of the contract
// untested, so a new endpoint cannot land without an end-to-end test.
type coverageCheck struct{ m *testing.M }

func (c coverageCheck) Run() int {
	code := c.m.Run()
	contractMu.Lock()
	spec := contract
	contractMu.Unlock()
	if code != 0 || spec == nil || isFiltered() {
		return code
	}
	if missing := spec.Uncovered(); len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the end-to-end tests never exercised these operations of mobile-contract/openapi.yaml:\n")
		for _, r := range missing {
			fmt.Fprintf(os.Stderr, "  %s\n", r)
		}
		return 1
	}
	return code
}

func isFiltered() bool {
	for _, a := range os.Args {
		if strings.HasPrefix(a, "-test.run") || strings.HasPrefix(a, "-test.skip") || strings.HasPrefix(a, "-test.bench") {
			return true
		}
	}
	return false
}

// syncBuffer is an io.Writer safe for the server's goroutines and the test to share.
type syncBuffer = testenv.LogBuffer

// testServer is a whole mportal (Main) on a loopback port, backed by the shared test FerretDB
// (a fresh database) and MinIO (fresh buckets).
type testServer struct {
	t      *testing.T
	main   *Main
	base   string
	client *http.Client
	spec   *contracttest.Spec
	stdout *syncBuffer
	logs   *syncBuffer
}

// testEnv returns the configuration of a test server; extra overrides it.
func testEnv(t *testing.T, extra map[string]string) map[string]string {
	env := map[string]string{
		"MPORTAL_LISTEN_ADDR":         "127.0.0.1:0",
		"MPORTAL_DATA_DIR":            t.TempDir(),
		"MPORTAL_MONGODB_URI":         testenv.MongoURI(t),
		"MPORTAL_MONGODB_DATABASE":    testenv.RandomName("e2e_"),
		"MPORTAL_MINIO_ENDPOINT":      testenv.MinIOEndpoint(t),
		"MPORTAL_MINIO_ACCESS_KEY":    testenv.MinIOAccessKey,
		"MPORTAL_MINIO_SECRET_KEY":    testenv.MinIOSecretKey,
		"MPORTAL_MINIO_BUCKET_PREFIX": testenv.RandomName("e2e-") + "-",
		"MPORTAL_SESSION_RECHECK":     "300ms",
		"MPORTAL_LOG_LEVEL":           "debug",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// startServer runs a Main configured by env; configure, if given, adjusts it before Run (for
// example to point push at a fake FCM server).
func startServer(t *testing.T, env map[string]string, configure ...func(*Main)) *testServer {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, stdout: &syncBuffer{}, logs: &syncBuffer{}}
	ts.main = NewMain(cfg, ts.stdout, ts.logs)
	ts.main.Argon = &auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}
	for _, c := range configure {
		c(ts.main)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ts.main.Run(ctx); err != nil {
		_ = ts.main.Close()
		t.Fatalf("start mportal: %v\nlogs:\n%s", err, ts.logs.String())
	}
	t.Cleanup(func() {
		if ts.main != nil {
			_ = ts.main.Close()
		}
	})
	ts.base = "http://" + ts.main.Addr()
	spec := contracttest.Load(t)
	contractMu.Lock()
	contract = spec
	contractMu.Unlock()
	ts.spec = spec
	ts.client = spec.Client(t, nil)
	return ts
}

// with returns a view of ts whose failures and contract reports go to t, for use in subtests
// (a subtest must not FailNow its parent).
func (ts *testServer) with(t *testing.T) *testServer {
	c := *ts
	c.t = t
	c.client = ts.spec.Client(t, nil)
	return &c
}

// stop closes the server now (instead of at cleanup).
func (ts *testServer) stop() {
	ts.t.Helper()
	if err := ts.main.Close(); err != nil {
		ts.t.Fatalf("close: %v", err)
	}
	ts.main = nil
}

var seededPassword = regexp.MustCompile(`password: (\S+)`)

// adminPassword is the one-time password the first start printed.
func (ts *testServer) adminPassword() string {
	ts.t.Helper()
	m := seededPassword.FindStringSubmatch(ts.stdout.String())
	if m == nil {
		ts.t.Fatalf("no seeded admin password in stdout:\n%s", ts.stdout.String())
	}
	return m[1]
}

// response is a finished exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problemCode returns the code of a problem response, or of the console's error page.
func (r response) problemCode() string {
	var p struct{ Code string }
	if json.Unmarshal(r.body, &p) != nil {
		p.Code, _ = r.consoleProblem()
	}
	return p.Code
}

// consoleErrorAttrs finds the problem's code and field on the console's error page.
var consoleErrorAttrs = regexp.MustCompile(`<p id="problem" role="alert" data-code="([a-z_]+)"(?: data-field="([^"]*)")?>`)

// consoleProblem returns the problem's code and field shown on the console's error page ("" when
// the response is not that page).
func (r response) consoleProblem() (code, field string) {
	if m := consoleErrorAttrs.FindSubmatch(r.body); m != nil {
		return string(m[1]), string(m[2])
	}
	return "", ""
}

// call sends a request on the contract-checked client. body may be nil, a string (sent as is with
// contentType) or a value encoded as JSON.
func (ts *testServer) call(method, path, token string, body any, opts ...func(*http.Request)) response {
	ts.t.Helper()
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, contentType = strings.NewReader(b), "application/json"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd, contentType = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, ts.base+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// offContract marks a deliberately malformed request.
func offContract(r *http.Request) { *r = *contracttest.OffContract(r) }

func withHeader(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }

// must asserts the status of a response.
func (ts *testServer) must(r response, status int) response {
	ts.t.Helper()
	if r.status != status {
		ts.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// tokens is the part of a token response the tests use.
type tokens struct {
	AccessToken            string `json:"access_token"`
	RefreshToken           string `json:"refresh_token"`
	SessionID              string `json:"session_id"`
	PasswordChangeRequired bool   `json:"password_change_required"`
	User                   struct {
		ID string `json:"id"`
	} `json:"user"`
}

func (ts *testServer) login(login, password, device string) tokens {
	ts.t.Helper()
	r := ts.must(ts.call("POST", "/v1/auth/login", "", map[string]string{
		"login": login, "password": password, "device_id": device,
	}), 200)
	var tk tokens
	r.json(ts.t, &tk)
	return tk
}

// signIn logs in with a one-time password, changes it to newPassword and logs in again.
func (ts *testServer) signIn(login, oneTime, newPassword, device string) tokens {
	ts.t.Helper()
	first := ts.login(login, oneTime, device)
	if !first.PasswordChangeRequired {
		ts.t.Fatalf("a one-time password did not require a change")
	}
	ts.must(ts.call("POST", "/v1/me/password", first.AccessToken, map[string]string{
		"current_password": oneTime, "new_password": newPassword,
	}), 204)
	return ts.login(login, newPassword, device)
}

// createUser creates a user as admin and returns its id and one-time password.
func (ts *testServer) createUser(adminToken string, in map[string]any) (id, oneTime string) {
	ts.t.Helper()
	r := ts.must(ts.call("POST", "/v1/admin/users", adminToken, in), 201)
	var out struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		OneTimePassword string `json:"one_time_password"`
	}
	r.json(ts.t, &out)
	return out.User.ID, out.OneTimePassword
}

// eventually polls cond until it holds or the deadline passes (for effects that are allowed to
// lag, such as a revoked session being noticed within MPORTAL_SESSION_RECHECK).
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func device(platform string) map[string]any {
	return map[string]any{
		"platform": platform, "model": "Pixel 8", "os_version": "15", "app_id": "com.example.portal",
		"app_version": "2.3.0", "build_number": 230, "channel": "stable", "locale": "zh-CN",
		"timezone": "Asia/Shanghai", "push_token": "tok-" + platform + "-" + testenv.RandomName(""), "push_enabled": true,
	}
}
