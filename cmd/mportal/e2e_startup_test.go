package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/config"
)

// TestBusyPortFailsStartUpCleanly: when an address is taken, serve returns an error naming the
// variable to change: no panic in Close, no hang waiting for a server that never started.
func TestBusyPortFailsStartUpCleanly(t *testing.T) {
	for _, variable := range []string{"MPORTAL_LISTEN_ADDR", "MPORTAL_METRICS_ADDR"} {
		t.Run("names "+variable, func(t *testing.T) {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			env := testEnv(t, map[string]string{"MPORTAL_METRICS_ADDR": "127.0.0.1:0", variable: taken.Addr().String()})
			cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- serve(ctx, cfg, io.Discard, io.Discard) }()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second): // a safety net against a hang, not a timing claim
				t.Fatal("serve neither started nor failed within 60 s")
			}
			if err == nil || !strings.Contains(err.Error(), variable) || !strings.Contains(err.Error(), taken.Addr().String()) {
				t.Fatalf("serve = %v, want an error naming %s and %s", err, variable, taken.Addr())
			}
		})
	}
}
