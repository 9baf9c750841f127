package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/loadtest"
)

// BenchmarkFeedbackEmbedded measures the feedback shapes of issue #9 (part B, items 5 and 7)
// through HTTP against a whole mportal on the embedded database, as `make run` deploys it (no
// MPORTAL_MONGODB_URI: FerretDB with SQLite in the process, request logging and middleware on).
// One employee pushes; the collection grows as the sub-benchmarks run, in this order:
//
//   - push500/create, push500/update, push500/delete: one push of 500 new records, of 500 edits
//     of the author's own records, of 500 deletes, with 5,000 records stored (records/s);
//   - push1/c16: one-record pushes of new feedback from 16 concurrent clients (p50-ms, p99-ms);
//   - list200 and get at 15,000 records: GET /v1/feedback?limit=200 and GET /v1/feedback/{id},
//     closed loop at concurrency 16 (req/s, p50-ms).
//
// Run it with a count of iterations, e.g. -benchtime=3x: each iteration of a push500
// sub-benchmark is one push.
func BenchmarkFeedbackEmbedded(b *testing.B) {
	benchFeedbackShapes(b, benchEmbedded(b, ""))
}

// BenchmarkFeedbackEmbeddedPostgreSQL runs the shapes of BenchmarkFeedbackEmbedded with the
// embedded FerretDB on its PostgreSQL backend instead of SQLite, on a PostgreSQL 15 cluster
// that it creates in a temporary directory (initdb and pg_ctl from /usr/lib/postgresql/15/bin,
// or MPORTAL_TEST_PG_BIN). See sync/README.md, "SQLite or PostgreSQL".
func BenchmarkFeedbackEmbeddedPostgreSQL(b *testing.B) {
	benchFeedbackShapes(b, benchEmbedded(b, startPostgreSQL(b)))
}

// benchFeedbackShapes runs the sub-benchmarks of BenchmarkFeedbackEmbedded against s.
func benchFeedbackShapes(b *testing.B, s *benchServer) {
	seedFeedback(b, s, "seed", 5_000)
	live, round := 5_000, 0
	b.Run("push500/create", func(b *testing.B) {
		for range b.N {
			round++
			s.push(b, fmt.Sprintf(`{"created":[%s],"updated":[],"deleted":[]}`, feedbackRecords(fmt.Sprintf("c%d", round), 500, "created")))
			live += 500
		}
		b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("push500/update", func(b *testing.B) {
		for i := range b.N {
			// 500 of the seeded records, a different slice of them each iteration.
			prefix := fmt.Sprintf("seed%d", i%10)
			s.push(b, fmt.Sprintf(`{"created":[],"updated":[%s],"deleted":[]}`, feedbackRecords(prefix, 500, "updated")))
		}
		b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("push500/delete", func(b *testing.B) {
		for range b.N {
			b.StopTimer() // 500 records to delete, so that the collection keeps its size
			round++
			prefix := fmt.Sprintf("d%d", round)
			s.push(b, fmt.Sprintf(`{"created":[%s],"updated":[],"deleted":[]}`, feedbackRecords(prefix, 500, "created")))
			ids := make([]string, 500)
			for i := range ids {
				ids[i] = fmt.Sprintf(`"%s-%04d"`, prefix, i)
			}
			b.StartTimer()
			s.push(b, fmt.Sprintf(`{"created":[],"updated":[],"deleted":[%s]}`, bytes.Join(toBytes(ids), []byte(","))))
		}
		b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("push1/c16", func(b *testing.B) {
		const clients = 16
		total := int64(max(b.N, 160)) // enough for a p50 whatever b.N
		var next atomic.Int64
		var mu sync.Mutex
		var took []time.Duration
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for {
					n := next.Add(1)
					if n > total {
						return
					}
					start := time.Now()
					s.push(b, fmt.Sprintf(`{"created":[%s],"updated":[],"deleted":[]}`, feedbackRecords(fmt.Sprintf("one%d", n), 1, "created")))
					mu.Lock()
					took = append(took, time.Since(start))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		live += int(total)
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("list200/15k", func(b *testing.B) {
		if live < 15_000 {
			seedFeedback(b, s, "more", 15_000-live)
			live = 15_000
		}
		benchFixed(b, loadtest.Config{URL: s.base + "/v1/feedback?limit=200", Headers: s.bearer(), Concurrency: 16})
	})
	b.Run("get/15k", func(b *testing.B) {
		urls := make([]string, 16)
		for i := range urls {
			urls[i] = fmt.Sprintf("%s/v1/feedback/seed%d-%04d", s.base, i%10, i*31)
		}
		benchFixed(b, loadtest.Config{URLs: urls, Headers: s.bearer(), Concurrency: 16})
	})
}

// benchFixed is benchLoad with at least 64 requests, whatever b.N (set small for the pushes).
func benchFixed(b *testing.B, cfg loadtest.Config) {
	b.Helper()
	cfg.MaxRequests, cfg.Duration = int64(max(b.N, 64)), benchMaxRun
	rep, err := loadtest.Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	reportLoad(b, rep)
}

// benchEmbedded starts Main on the embedded database in a temporary data directory (and the
// test MinIO), with one employee signed in; unlike benchMain, no MPORTAL_MONGODB_URI. pgURL,
// when not empty, puts the embedded FerretDB on that PostgreSQL database instead of SQLite.
func benchEmbedded(b *testing.B, pgURL string) *benchServer {
	b.Helper()
	env := benchEnv(b, false)
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	logs := &benchLog{}
	m := NewMain(cfg, &benchLog{}, logs)
	m.Argon = &auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1} // sign-in is not measured here
	m.embeddedPostgreSQL = pgURL
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
	return &benchServer{base: "http://" + m.Addr(), token: benchUser(b, m, benchEmployeeNo, "bench-phone-0", auth.RoleEmployee)}
}

// seedFeedback pushes n new feedback records in pushes of 500, ids "<prefix><k>-<i>" with k
// counting the pushes, so that prefix+"0" to prefix+"9" name the first 5,000.
func seedFeedback(b *testing.B, s *benchServer, prefix string, n int) {
	b.Helper()
	for k := 0; n > 0; k++ {
		size := min(n, 500)
		s.push(b, fmt.Sprintf(`{"created":[%s],"updated":[],"deleted":[]}`, feedbackRecords(fmt.Sprintf("%s%d", prefix, k), size, "created")))
		n -= size
	}
}

// feedbackRecords is n feedback records as an app pushes them, ids "<prefix>-0000" onwards.
func feedbackRecords(prefix string, n int, status string) string {
	var buf bytes.Buffer
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"id":"%s-%04d","category":"bug","text":"The scanner in bay %d drops the connection (%s)",`+
			`"latitude":31.23,"longitude":121.47,"accuracy_m":12.5,"app_id":"com.example.portal","build":230,`+
			`"version":"2.3.0","channel":"beta","platform":"android","device_model":"Pixel 8","os_version":"15",`+
			`"created_at":1767225600000,"share_with_testers":false,"status":"new","_status":"%s","_changed":""}`,
			prefix, i, i, status, status)
	}
	return buf.String()
}

// push sends one sync push of the feedback table and fails unless every record was accepted.
func (s *benchServer) push(b *testing.B, feedback string) {
	body := `{"changes":{"feedback":` + feedback + `}}`
	req, err := http.NewRequest(http.MethodPost, s.base+"/v1/sync/push?last_pulled_at=0", bytes.NewReader([]byte(body)))
	if err != nil {
		b.Error(err)
		return
	}
	req.Header = s.bearer()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(data, []byte(`"rejected":[]`)) {
		b.Errorf("push: %d %.300s", resp.StatusCode, data)
	}
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}
