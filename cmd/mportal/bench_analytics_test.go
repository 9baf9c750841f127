package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
)

// BenchmarkAnalyticsIngestEmbedded measures POST /v1/events through HTTP against a whole
// mportal on the embedded database (FerretDB with SQLite in the process), in batches of 500
// new events from 4 concurrent clients (events/s). Every iteration is one batch; each device
// sends at most 5 (its rate-limit burst), so the benchmark signs in enough users first.
func BenchmarkAnalyticsIngestEmbedded(b *testing.B) {
	env := benchEnv(b, false)
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	logs := &benchLog{}
	m := NewMain(cfg, &benchLog{}, logs)
	m.Argon = &auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
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
	base := "http://" + m.Addr()
	tokens := make([]string, b.N/5+1)
	for i := range tokens {
		tokens[i] = benchUser(b, m, fmt.Sprintf("A%05d", i), fmt.Sprintf("phone-%d", i), auth.RoleEmployee)
	}
	now := time.Now().UnixMilli()
	body := func(n int) []byte {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, `{"app":"portal","build":"42","platform":"android","client_time":%d,"events":[`, now)
		for i := range 500 {
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"id":"b%d-%d","name":"screen_view","screen":"screen%d","at":%d,"properties":{"source":"menu"}}`, n, i, i%20, now-int64(i)*1000)
		}
		buf.WriteString("]}")
		return buf.Bytes()
	}
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = body(i)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 4 {
		wg.Go(func() {
			for {
				n := int(next.Add(1)) - 1
				if n >= b.N {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, base+"/v1/events", bytes.NewReader(bodies[n]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tokens[n/5])
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Contains(data, []byte(`"accepted":500`)) {
					b.Errorf("batch %d: %d %s", n, resp.StatusCode, data)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "events/s")
}
