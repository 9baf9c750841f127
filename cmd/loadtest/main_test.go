package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/loadtest"
)

func TestRun(t *testing.T) {
	ctx := context.Background()

	t.Run("measures the in-process baseline", func(t *testing.T) {
		var out, errOut strings.Builder
		if err := run(ctx, []string{"-baseline", "-c", "4", "-n", "200", "-d", "30s"}, &out, &errOut); err != nil {
			t.Fatalf("%v\n%s", err, errOut.String())
		}
		for _, want := range []string{"baseline: bare Fiber JSON handler at http://127.0.0.1:", "requests   200 ", "200:200", "req/s", "p99"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("prints the report as JSON", func(t *testing.T) {
		var out, errOut strings.Builder
		if err := run(ctx, []string{"-baseline", "-json", "-c", "2", "-n", "20"}, &out, &errOut); err != nil {
			t.Fatalf("%v\n%s", err, errOut.String())
		}
		_, report, _ := strings.Cut(out.String(), "\n{")
		var rep loadtest.Report
		if err := json.Unmarshal([]byte("{"+report), &rep); err != nil || rep.Requests != 20 {
			t.Fatalf("report %+v, err %v, output:\n%s", rep, err, out.String())
		}
	})
	t.Run("refuses a target off this machine", func(t *testing.T) {
		var out, errOut strings.Builder
		err := run(ctx, []string{"-url", "http://10.1.2.3:8080/v1/me", "-n", "1"}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("rejects a malformed header", func(t *testing.T) {
		var out, errOut strings.Builder
		if err := run(ctx, []string{"-baseline", "-H", "no colon"}, &out, &errOut); err == nil {
			t.Fatal("accepted -H 'no colon'")
		}
	})
}
