package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/testenv"
)

func TestOperability(t *testing.T) {
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_METRICS_ADDR": "127.0.0.1:0"}))
	t.Run("healthz, readyz and the contract are served", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("GET", "/healthz", "", nil), 200)
		r := ts.must(ts.call("GET", "/readyz", "", nil), 200)
		if !strings.Contains(string(r.body), `"mongodb":"ok"`) || !strings.Contains(string(r.body), `"minio":"ok"`) {
			t.Fatalf("readyz %s", r.body)
		}
		r = ts.must(ts.call("GET", "/v1/openapi.yaml", "", nil), 200)
		if !bytes.HasPrefix(r.body, []byte("openapi: 3.1")) {
			t.Fatalf("openapi.yaml starts with %q", r.body[:20])
		}
	})
	t.Run("metrics count requests by route template", func(t *testing.T) {
		ts := ts.with(t)
		ts.call("GET", "/v1/devices", "", nil)
		r := ts.must(ts.metrics(), 200)
		for _, want := range []string{
			`mportal_http_requests_total{method="GET",route="/v1/devices",status="401"}`,
			"mportal_http_request_duration_seconds_bucket", "go_goroutines",
		} {
			if !bytes.Contains(r.body, []byte(want)) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
	t.Run("client mistakes get problem documents, never 500s", func(t *testing.T) {
		ts := ts.with(t)
		cases := []struct {
			name, method, path, body, contentType string
			status                                int
			code                                  string
		}{
			{"malformed JSON", "POST", "/v1/auth/login", `{"login":`, "application/json", 400, "invalid_json"},
			{"wrong content type", "POST", "/v1/auth/login", `login=a`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
			{"unknown route", "GET", "/v1/nothing-here", "", "", 404, "not_found"},
			{"missing fields", "POST", "/v1/auth/login", `{}`, "application/json", 400, "invalid"},
			{"refresh without a token", "POST", "/v1/auth/refresh", `{"device_id":"d"}`, "application/json", 401, "unauthorized"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ts := ts.with(t)
				var body any
				if tc.body != "" {
					body = tc.body
				}
				opts := []func(*http.Request){offContract}
				if tc.contentType != "" {
					opts = append(opts, withHeader("Content-Type", tc.contentType))
				}
				r := ts.call(tc.method, tc.path, "", body, opts...)
				if r.status != tc.status || r.problemCode() != tc.code {
					t.Fatalf("got %d %s", r.status, r.body)
				}
				if r.header.Get("X-Request-ID") == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
					t.Fatalf("headers %v", r.header)
				}
			})
		}
	})
	t.Run("a client request id is echoed", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.call("GET", "/healthz", "", nil, withHeader("X-Request-ID", "trace-42"))
		if r.header.Get("X-Request-ID") != "trace-42" {
			t.Fatalf("X-Request-ID %q", r.header.Get("X-Request-ID"))
		}
	})
}

// TestEmbeddedDatabaseSurvivesRestart runs the server the way `make run` does — no MongoDB URI,
// the embedded FerretDB under the data directory — stops it, and starts it again: the admin is
// not seeded twice, passwords and signing keys persist, and tokens issued before still work.
func TestEmbeddedDatabaseSurvivesRestart(t *testing.T) {
	env := testEnv(t, map[string]string{"MPORTAL_MONGODB_URI": ""})
	ts := startServer(t, env)
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1")
	ts.must(ts.call("PUT", "/v1/devices/phone-1", admin.AccessToken, device("android")), 200)
	if _, err := os.Stat(filepath.Join(env["MPORTAL_DATA_DIR"], "keys", "jwt-signing.pem")); err != nil {
		t.Fatalf("signing key not generated in the data dir: %v", err)
	}
	// FerretDB has no authentication: it listens on a socket in the 0700 data directory, not on
	// a loopback port that every local user could reach.
	uri, err := os.ReadFile(embeddedURIFile(ts.main.Config))
	if err != nil || !strings.Contains(string(uri), ".sock") || strings.Contains(string(uri), "127.0.0.1") {
		t.Fatalf("embedded database URI %q (%v): want a Unix socket", uri, err)
	}
	ts.stop()

	again := startServer(t, env)
	if strings.Contains(again.stdout.String(), "Seeded") {
		t.Fatal("the admin was seeded a second time")
	}
	again.must(again.call("GET", "/v1/devices", admin.AccessToken, nil), 200)
	again.must(again.call("POST", "/v1/auth/refresh", "", map[string]string{
		"refresh_token": admin.RefreshToken, "device_id": "laptop-1",
	}), 200)
	again.login("admin", "admin-passphrase-1", "laptop-2")
}

// TestCloseReleasesEverything: after Close the port is free and the database connection is closed.
func TestCloseReleasesEverything(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	addr, db := ts.main.Addr(), ts.main.db
	ts.stop()
	if err := db.Ping(context.Background()); err == nil {
		t.Fatal("the database connection is still open")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port is still taken: %v", err)
	}
	ln.Close()
}

func TestCommands(t *testing.T) {
	env := testEnv(t, nil)
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	runCmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	t.Run("version", func(t *testing.T) {
		out, err := runCmd("version")
		if err != nil || !strings.HasPrefix(out, "mportal ") {
			t.Fatalf("%q %v", out, err)
		}
	})
	t.Run("config masks secrets", func(t *testing.T) {
		out, err := runCmd("config")
		if err != nil || strings.Contains(out, testenv.MinIOSecretKey) || !strings.Contains(out, "MPORTAL_MINIO_SECRET_KEY=********") {
			t.Fatalf("%q %v", out, err)
		}
	})
	t.Run("a bad variable fails with its name", func(t *testing.T) {
		t.Setenv("MPORTAL_ACCESS_TOKEN_TTL", "forever")
		_, err := runCmd("serve")
		if err == nil || !strings.Contains(err.Error(), "MPORTAL_ACCESS_TOKEN_TTL") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("an unknown command is a usage error", func(t *testing.T) {
		if _, err := runCmd("frobnicate"); err == nil {
			t.Fatal("no error")
		}
	})
	var otp string
	t.Run("user add prints a one-time password", func(t *testing.T) {
		out, err := runCmd("user", "add", "-employee-no", "C100", "-name", "Chen Jing", "-roles", "employee,ops")
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		m := regexp.MustCompile(`one-time password: (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no password in %q", out)
		}
		otp = m[1]
	})
	t.Run("user import reports every row", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "users.csv")
		csv := "employee_no,name,department\nC200,Zhao Lei,Sales\nC201,,Sales\n"
		if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := runCmd("user", "import", file)
		if err == nil || !strings.Contains(out, `"created": 1`) || !strings.Contains(out, `"line": 3`) {
			t.Fatalf("%v: %s", err, out)
		}
	})
	t.Run("the server sees users the CLI created", func(t *testing.T) {
		ts := startServer(t, env)
		chen := ts.signIn("C100", otp, "chen-passphrase", "phone-1")

		// A row that disables a user revokes their sessions, as the API does, and the rows
		// after it are applied. Before, the CLI had nothing to revoke sessions with: the
		// import stopped at that row and the sessions stayed live.
		file := filepath.Join(t.TempDir(), "disable.csv")
		csv := "employee_no,name,status\nC100,Chen Jing,disabled\nC300,Sun Li,\n"
		if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := runCmd("user", "import", file)
		if err != nil || !strings.Contains(out, `"created": 1`) || !strings.Contains(out, `"updated": 1`) {
			t.Fatalf("%v: %s", err, out)
		}
		ts.must(ts.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": chen.RefreshToken, "device_id": "phone-1"}), 401)
	})
}

// TestBadFCMCredentialsFailStartUp: a configured but unusable credentials file is a bad setting,
// not a silent "push off".
func TestBadFCMCredentialsFailStartUp(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.json")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]string{
		"a missing file":           filepath.Join(t.TempDir(), "missing.json"),
		"a file that is not a key": garbage,
	} {
		t.Run("rejects "+name, func(t *testing.T) {
			env := testEnv(t, map[string]string{"MPORTAL_FCM_CREDENTIALS_FILE": file})
			cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			m := NewMain(cfg, io.Discard, io.Discard)
			err = m.Run(context.Background())
			_ = m.Close()
			if err == nil || !strings.Contains(err.Error(), "MPORTAL_FCM_CREDENTIALS_FILE") {
				t.Fatalf("Run = %v, want an error naming MPORTAL_FCM_CREDENTIALS_FILE", err)
			}
		})
	}
}

// TestAConnectionResetMidRequestIsNoError: a client that resets its connection while its request
// is on its way (an app killed, a phone off the network) is the network's weather: no ERROR line
// (Fiber made it a 502 that was logged as an unexpected failure), and nothing of the partial
// request, which may hold a token, reaches the log.
func TestAConnectionResetMidRequestIsNoError(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	const secret = "partial-secret-token-4c1d"
	reset := func(partial string, wait time.Duration) {
		c, err := net.Dial("tcp", ts.main.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(partial)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(wait) // for the server to read it: a reset that comes first leaves nothing read
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close() // a reset, not a close
	}
	broke := func() int { return strings.Count(ts.logs.String(), "connection broke while its request was read") }
	for wait := 50 * time.Millisecond; broke() == 0; wait *= 2 {
		if wait > 10*time.Second {
			t.Fatalf("no reset was seen as a broken connection; the log:\n%s", ts.logs.String())
		}
		reset("GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+secret, wait) // in the headers
		reset("POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
			"Content-Length: 200\r\n\r\n{\"login\":\"E1\",\"password\":\""+secret, wait) // in the body
		for deadline := time.Now().Add(wait + time.Second); broke() == 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	logs := ts.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("a reset connection was logged as an error:\n%s", logs)
	}
	if strings.Contains(logs, secret[:12]) {
		t.Errorf("the partial request reached the log:\n%s", logs)
	}
	ts.must(ts.call("GET", "/healthz", "", nil), 200) // and the server serves on
}
