package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// MinIO credentials used by every test server.
const (
	MinIOEndpointEnv = "MPORTAL_TEST_MINIO_ENDPOINT"
	MinIOAccessKey   = "mportal-test"
	MinIOSecretKey   = "mportal-test-secret"
)

var minio = &component{env: MinIOEndpointEnv, what: "MinIO", start: startMinIO}

// MinIOEndpoint returns host:port of a real MinIO server: the one `make test` shares, or bin/minio
// started for this test binary on a free loopback port with a temporary data directory.
// The credentials are MinIOAccessKey and MinIOSecretKey. Tests isolate themselves with a random
// bucket prefix (RandomName).
func MinIOEndpoint(tb testing.TB) string {
	tb.Helper()
	return minio.get(tb)
}

func startMinIO(root string) (string, error) {
	bin := filepath.Join(root, "bin", "minio")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s is missing: run `make setup` (deploy/dev/setup.sh builds it from the pinned version)", bin)
	}
	dir, err := os.MkdirTemp("", "mportal-minio-")
	if err != nil {
		return "", err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between probe and bind
		port, err := freePort()
		if err != nil {
			return "", err
		}
		consolePort, err := freePort()
		if err != nil {
			return "", err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd := exec.Command(bin, "server", "--quiet", "--address", addr,
			"--console-address", fmt.Sprintf("127.0.0.1:%d", consolePort), dir)
		cmd.Env = append(os.Environ(),
			"MINIO_ROOT_USER="+MinIOAccessKey,
			"MINIO_ROOT_PASSWORD="+MinIOSecretKey,
			"MINIO_BROWSER=off",
			"MINIO_UPDATE=off",
		)
		dieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			return "", err
		}
		if lastErr = waitReady("http://"+addr+"/minio/health/ready", 60*time.Second); lastErr == nil {
			track(&process{cmd: cmd, dir: dir})
			return addr, nil
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	_ = os.RemoveAll(dir)
	return "", lastErr
}

func waitReady(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %s", url, timeout)
}
