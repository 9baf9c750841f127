package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/loadtest"
	"github.com/mportal/mportal/push"
)

// approvalBench is a server on the embedded database (FerretDB on SQLite under the data
// directory, as a single-node install runs) with one signed-in approver and an integration.
type approvalBench struct {
	m              *Main
	base, token    string
	source, secret string
	seq            atomic.Int64
}

func startApprovalBench(b *testing.B) *approvalBench {
	b.Helper()
	env := benchEnv(b, false)
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	logs := &benchLog{}
	m := NewMain(cfg, &benchLog{}, logs)
	m.Argon = &auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1} // sign-in is not measured here
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
	s := &approvalBench{m: m, base: "http://" + m.Addr(), source: "bench"}
	s.token = benchUser(b, m, "A1001", "bench-phone-0", auth.RoleEmployee, auth.RoleApprover)
	created, err := m.approvals.CreateIntegration(ctx, systemActor, approval.NewIntegration{Source: s.source, Name: "Bench OA",
		CallbackURL: "http://127.0.0.1:9/callback"})
	if err != nil {
		b.Fatal(err)
	}
	s.secret = created.Secret
	return s
}

// signedEvent is one ready-to-send event: a new task for the approver.
type signedEvent struct {
	id, ts, sig string
	body        []byte
}

func (s *approvalBench) event(b *testing.B) signedEvent {
	n := s.seq.Add(1)
	ev := map[string]any{"type": approval.EventTaskCreated, "data": map[string]any{
		"instance": map[string]any{"id": fmt.Sprint("I", n), "flow_code": "expense", "flow_name": "Expense claim",
			"title": fmt.Sprint("Trip ", n), "applicant": map[string]any{"employee_no": "E1", "name": "A", "department": "Sales"},
			"summary": []map[string]any{{"label": "Amount", "value": "¥1,200"}}, "status": "PENDING", "version": 1},
		"task": map[string]any{"id": fmt.Sprint("T", n), "node_id": "n1", "node_name": "Manager", "node_mode": "OR",
			"approver_employee_no": "A1001", "status": "PENDING", "created_at": time.Now().UTC().Format(time.RFC3339),
			"actions": []map[string]any{{"action": "approve", "reason_required": false}}, "version": 1},
	}}
	body := benchJSON(b, ev)
	now := time.Now()
	id := fmt.Sprint("msg_", n)
	return signedEvent{id: id, ts: strconv.FormatInt(now.Unix(), 10), sig: approval.Sign(s.secret, id, now, body), body: body}
}

func (s *approvalBench) send(client *http.Client, e signedEvent) error {
	req, err := http.NewRequest(http.MethodPost, s.base+"/v1/integrations/"+s.source+"/events", bytes.NewReader(e.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", e.id)
	req.Header.Set("webhook-timestamp", e.ts)
	req.Header.Set("webhook-signature", e.sig)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out approval.IngestResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted || out.Result != approval.ResultAccepted {
		return fmt.Errorf("event %s: status %d, result %q, %v", e.id, resp.StatusCode, out.Result, err)
	}
	return nil
}

// BenchmarkApprovalIngest posts b.N signed task.created events (each a new task for one
// approver) from 8 OA connections while the event worker runs. The answer (202) comes after
// verify, validate, resolve the approver (cached) and one insert: accepted-events/s and the
// p50/p99 latency measure that. The worker applies the events meanwhile (instance and task
// through the sync engine, the push enqueued): processed-events/s is b.N over the time from
// the first request until the last event is processed. The events are signed before the
// timer starts.
func BenchmarkApprovalIngest(b *testing.B) {
	s := startApprovalBench(b)
	events := s.events(b, b.N)
	b.ResetTimer()
	start := time.Now()
	elapsed, latencies := s.load(b, events)
	s.waitProcessed(b, events)
	processed := time.Since(start)
	b.StopTimer()
	reportAccepted(b, elapsed, latencies)
	b.ReportMetric(float64(b.N)/processed.Seconds(), "processed-events/s")
}

// BenchmarkApprovalAccept is BenchmarkApprovalIngest with the event worker paused during the
// load (approval.Service.PauseEvents): accepted-events/s is the cost of accepting alone. Then
// the worker is resumed and drains the backlog: backlog-events/s is b.N over that time.
func BenchmarkApprovalAccept(b *testing.B) {
	s := startApprovalBench(b)
	events := s.events(b, b.N)
	resume := s.m.approvals.PauseEvents()
	defer resume()
	b.ResetTimer()
	elapsed, latencies := s.load(b, events)
	start := time.Now()
	resume()
	s.waitProcessed(b, events)
	drained := time.Since(start)
	b.StopTimer()
	reportAccepted(b, elapsed, latencies)
	b.ReportMetric(float64(b.N)/drained.Seconds(), "backlog-events/s")
}

func (s *approvalBench) events(b *testing.B, n int) []signedEvent {
	events := make([]signedEvent, n)
	for i := range events {
		events[i] = s.event(b)
	}
	return events
}

// load posts events from 8 connections and returns the time it took and each request's latency.
func (s *approvalBench) load(b *testing.B, events []signedEvent) (time.Duration, []time.Duration) {
	const workers = 8
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, len(events))
		firstErr  error
		wg        sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			client := &http.Client{Timeout: 30 * time.Second}
			for {
				i := next.Add(1) - 1
				if i >= int64(len(events)) {
					return
				}
				t0 := time.Now()
				err := s.send(client, events[i])
				d := time.Since(t0)
				mu.Lock()
				latencies = append(latencies, d)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return elapsed, latencies
}

// waitProcessed waits until every event is applied.
func (s *approvalBench) waitProcessed(b *testing.B, events []signedEvent) {
	for _, e := range events {
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
			st, err := s.m.approvals.EventStatus(context.Background(), s.source, e.id)
			if err != nil {
				b.Fatal(err)
			}
			if st.Result == approval.ResultApplied {
				break
			}
			if st.Result != approval.ResultAccepted || time.Now().After(deadline) {
				b.Fatalf("event %s: %s", e.id, st.Result)
			}
		}
	}
}

func reportAccepted(b *testing.B, elapsed time.Duration, latencies []time.Duration) {
	slices.Sort(latencies)
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "accepted-events/s")
	b.ReportMetric(float64(latencies[len(latencies)/2])/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100])/float64(time.Millisecond), "p99-ms")
}

// BenchmarkApprovalList loads GET /v1/approvals (the first page of 50, pending first) of an
// approver holding 500 tasks, from 1 connection (the service time) and from 16, and reports
// req/s and p50/p99 latency.
func BenchmarkApprovalList(b *testing.B) {
	s := startApprovalBench(b)
	client := &http.Client{Timeout: 30 * time.Second}
	for range 500 {
		if err := s.send(client, s.event(b)); err != nil {
			b.Fatal(err)
		}
	}
	// Let the push engine finish the 500 notifications first: the list is measured, not them.
	var me struct{ ID string }
	benchCall(b, s.base, http.MethodGet, "/v1/me", s.token, nil, &me)
	last := fmt.Sprintf("approval:%s:T%d:%s:1", s.source, s.seq.Load(), me.ID)
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		st, err := s.m.push.Status(context.Background(), last)
		if err == nil && st.State == push.StateDone {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("notification %s not done: %+v %v", last, st, err)
		}
	}
	for _, c := range []int{1, 16} {
		b.Run(fmt.Sprintf("connections=%d", c), func(b *testing.B) {
			cfg := loadtest.Config{URL: s.base + "/v1/approvals", Headers: http.Header{"Authorization": {"Bearer " + s.token}},
				Concurrency: c, MaxRequests: int64(max(b.N, 32)), Duration: benchMaxRun}
			b.ResetTimer()
			rep, err := loadtest.Run(context.Background(), cfg)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			reportLoad(b, rep)
		})
	}
}
