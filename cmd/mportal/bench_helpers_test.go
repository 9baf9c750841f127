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
	"github.com/mportal/mportal/internal/testenv"
)

// benchEnv is the environment of a benchmark's server: a free loopback port, a temporary data
// directory, the test MinIO with its own bucket prefix, warnings only (a log line per request
// would measure the logger), and, with shared, a database of its own on the test FerretDB
// (without, the embedded database under the data directory).
func benchEnv(b *testing.B, shared bool) map[string]string {
	env := map[string]string{
		"MPORTAL_LISTEN_ADDR":         "127.0.0.1:0",
		"MPORTAL_DATA_DIR":            b.TempDir(),
		"MPORTAL_MINIO_ENDPOINT":      testenv.MinIOEndpoint(b),
		"MPORTAL_MINIO_ACCESS_KEY":    testenv.MinIOAccessKey,
		"MPORTAL_MINIO_SECRET_KEY":    testenv.MinIOSecretKey,
		"MPORTAL_MINIO_BUCKET_PREFIX": testenv.RandomName("bench-") + "-",
		"MPORTAL_LOG_LEVEL":           "warn",
	}
	if shared {
		env["MPORTAL_MONGODB_URI"] = testenv.MongoURI(b)
		env["MPORTAL_MONGODB_DATABASE"] = testenv.RandomName("bench_")
	}
	return env
}

// benchMain starts Main on a loopback port against the test FerretDB and MinIO, on a fresh
// database and bucket prefix, logging only warnings (a log line per request would measure the
// logger). argon, when not nil, replaces the production password cost. When the benchmark
// ends the database is dropped (benchmarks leave thousands of sessions and devices nobody
// needs) and Main is closed.
func benchMain(b *testing.B, argon *auth.Argon2Params) *Main {
	b.Helper()
	return benchMainLogging(b, argon, "warn", &benchLog{})
}

// benchMainLogging is benchMain logging at level to logs: an *os.File, as the binary's
// stderr is, gets the buffered writer and the access log the binary has.
func benchMainLogging(b *testing.B, argon *auth.Argon2Params, level string, logs io.Writer) *Main {
	b.Helper()
	env := benchEnv(b, true)
	env["MPORTAL_LOG_LEVEL"] = level
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	m := NewMain(cfg, &benchLog{}, logs)
	m.Argon = argon
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		b.Fatalf("start mportal: %v\nlogs:\n%s", err, logs)
	}
	b.Cleanup(func() {
		dropCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = m.db.DB.Drop(dropCtx)
		if err := m.Close(); err != nil {
			b.Errorf("close mportal: %v", err)
		}
	})
	return m
}

// benchUser creates a user with the bench password and roles through the directory as the
// system, signs them in over HTTP from deviceID, and returns the access token.
func benchUser(b *testing.B, m *Main, employeeNo, deviceID string, roles ...auth.Role) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	u, _, err := m.users.Create(ctx, systemActor, directory.CreateUser{EmployeeNo: employeeNo, Name: "Bench " + employeeNo, Roles: roles})
	if err != nil {
		b.Fatal(err)
	}
	argon := auth.DefaultArgon2
	if m.Argon != nil {
		argon = *m.Argon
	}
	hash, err := auth.HashPassword(benchPassword, argon)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.users.SetPassword(ctx, u.ID, hash, false); err != nil {
		b.Fatal(err)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	benchCall(b, "http://"+m.Addr(), http.MethodPost, "/v1/auth/login", "",
		map[string]string{"login": employeeNo, "password": benchPassword, "device_id": deviceID}, &out)
	if out.AccessToken == "" {
		b.Fatal("login: no access token")
	}
	return out.AccessToken
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
