package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// loginBurst is how many logins BenchmarkLoginMemory sends at once.
const loginBurst = 200

// BenchmarkLoginMemory runs the real server in a child process (main(), production argon2 cost:
// 19 MiB per verification) and sends bursts of loginBurst concurrent password logins over
// loopback HTTP, each on its own connection. It reports the child's peak resident set (VmHWM,
// MiB) against its resident set before the first burst, and per burst how many logins were
// answered 200, how many 503 with Retry-After (shed by the argon2 gate, to be retried) and how
// many failed otherwise (500, or 503 without Retry-After when a dependency timed out under the
// load).
//
//	deploy/dev/test.sh --bench ./cmd/mportal/  with  GOTESTFLAGS='-bench BenchmarkLoginMemory -benchtime 3x'
func BenchmarkLoginMemory(b *testing.B) {
	env := benchEnv(b, true)
	env["MPORTAL_LOG_LEVEL"] = "info"
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "MPORTAL_TEST_HELPER_SERVE=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	started := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(s.Bytes(), &rec) == nil && rec.Msg == "mportal started" {
				started <- rec.Addr
			}
		}
	}()
	var addr string
	select {
	case addr = <-started:
	case <-time.After(2 * time.Minute):
		b.Fatal("the server did not start")
	}
	var m []string
	for deadline := time.Now().Add(time.Minute); m == nil; time.Sleep(10 * time.Millisecond) {
		if m = seededPassword.FindStringSubmatch(stdout.String()); m == nil && time.Now().After(deadline) {
			b.Fatalf("no seeded admin password in %q", stdout.String())
		}
	}
	body, _ := json.Marshal(map[string]string{"login": "admin", "password": m[1], "device_id": "bench"})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loginBurst}, Timeout: 5 * time.Minute}

	before := procStatusMiB(b, cmd.Process.Pid, "VmRSS")
	statuses := map[int]int{}
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range loginBurst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Post("http://"+addr+"/v1/auth/login", "application/json", bytes.NewReader(body))
				code := -1
				if err == nil {
					code = resp.StatusCode
					if code == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
						code = 0 // not shed by the gate: a dependency gave up under the load (a failure)
					}
					resp.Body.Close()
				}
				mu.Lock()
				statuses[code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(before, "rss-before-MiB")
	b.ReportMetric(procStatusMiB(b, cmd.Process.Pid, "VmHWM"), "peak-rss-MiB")
	b.ReportMetric(float64(statuses[200])/float64(b.N), "ok/burst")
	b.ReportMetric(float64(statuses[503])/float64(b.N), "503/burst")
	b.ReportMetric(float64(b.N*loginBurst-statuses[200]-statuses[503])/float64(b.N), "failed/burst")
}

// procStatusMiB reads a kB field such as VmRSS or VmHWM (peak RSS) of /proc/<pid>/status in MiB.
func procStatusMiB(b *testing.B, pid int, field string) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
