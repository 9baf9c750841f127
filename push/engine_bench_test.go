package push_test

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
	"github.com/mportal/mportal/push/fcmfake"
)

// countingInbox counts inbox items without keeping them, so the benchmark measures the engine.
type countingInbox struct{ n atomic.Int64 }

func (c *countingInbox) Add(_ context.Context, items []push.InboxItem) error {
	c.n.Add(int64(len(items)))
	return nil
}

// BenchmarkFanout50k fans one announcement out to 50,000 seeded devices and sends it through the
// real Firebase SDK to the fake FCM server on loopback, with the audience streamed from the
// directory's in-memory RecipientView as on the embedded database. It reports delivered messages
// per second (enqueue to done), the time to load the view (once per process), and the process's
// peak resident memory during the fan-out (which includes the view and the fake server, counting
// only) and during the seeding. The database runs in its own process.
func BenchmarkFanout50k(b *testing.B) {
	benchmarkFanout50k(b, true)
}

// BenchmarkFanout50kDatabaseStream is BenchmarkFanout50k with the audience read from the users
// and devices collections by a cursor, as on MongoDB.
func BenchmarkFanout50kDatabaseStream(b *testing.B) {
	benchmarkFanout50k(b, false)
}

func benchmarkFanout50k(b *testing.B, view bool) {
	const devices = 50000
	db := testenv.Mongo(b)
	dir := seedDirectory(b, db, "bench", devices)
	seeded := peakRSSMiB(b)
	resetPeakRSS(b)
	rec := &directory.Recipients{DB: db}
	var viewLoad time.Duration
	var viewPeak float64
	if view {
		// Loaded once per process (at first use), so measured apart from the fan-out.
		rec.View = &directory.RecipientView{DB: db}
		start := time.Now()
		if err := rec.View.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		viewLoad, viewPeak = time.Since(start), peakRSSMiB(b)
		resetPeakRSS(b)
	}
	fcm, fake := outboxFCM(b)
	fake.SetCountOnly(true) // the fake's record of messages is not the engine's memory
	e := newEngine(db, fcm, &countingInbox{})
	e.PollInterval = time.Second // the production default; completions do not wait for it
	e.Recipients = rec
	run(b, e)
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		fake.Reset()
		id := enqueue(b, e, announcement("bench-"+strconv.Itoa(i)))
		waitSent(b, e, fake, id, devices)
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(devices*b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(seeded, "seeding-peak-RSS-MiB")
	if view {
		b.ReportMetric(viewLoad.Seconds(), "view-load-s")
		b.ReportMetric(viewPeak, "view-load-peak-RSS-MiB")
	}
	b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
	exactlyOnce(b, fake, dir.tokens) // the fake was reset before the last run
}

// waitSent waits until the fake accepted n messages and then until notification id is done. It
// watches the fake's count rather than polling Status, whose reads of the pending batches would
// take a share of the embedded database's CPU from the fan-out being measured.
func waitSent(b *testing.B, e *push.Engine, fake *fcmfake.Server, id string, n int) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for fake.Total() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d of %d messages sent after 5 minutes", id, fake.Total(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitDone(b, e, id)
}

// resetPeakRSS returns memory to the OS and resets the peak (VmHWM), so that the seeding's peak
// does not hide the engine's.
func resetPeakRSS(b *testing.B) {
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset peak RSS: %v", err)
	}
}

// peakRSSMiB reads the process's peak resident set size (VmHWM) from /proc/self/status.
func peakRSSMiB(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// memRecipients is a RecipientSource held in memory, for measuring the engine without the
// directory's database reads (what an in-memory recipient view on the embedded backend would give).
type memRecipients struct{ all []push.Recipient }

func (m *memRecipients) Stream(_ context.Context, _ push.Audience, cursor string, fn func([]push.Recipient, string) error) error {
	start := 0
	if cursor != "" {
		start, _ = strconv.Atoi(cursor)
	}
	for i := start; i < len(m.all); i += push.MaxBatch {
		end := min(i+push.MaxBatch, len(m.all))
		if err := fn(m.all[i:end], strconv.Itoa(end)); err != nil {
			return err
		}
	}
	return nil
}

func (m *memRecipients) RemoveToken(context.Context, string) error { return nil }

// BenchmarkFanout50kMemoryRecipients is BenchmarkFanout50k with the audience read from memory: the
// outbox, its claims and batches on the embedded database and the sends through the real SDK are
// unchanged. The gap between the two is the cost of reading users and devices from FerretDB.
func BenchmarkFanout50kMemoryRecipients(b *testing.B) {
	const devices = 50000
	db := testenv.Mongo(b)
	rec := &memRecipients{}
	tokens := make([]string, 0, devices)
	now := time.Now()
	for i := 0; i < devices; i++ {
		tok := "mem-" + strconv.Itoa(i)
		tokens = append(tokens, tok)
		rec.all = append(rec.all, push.Recipient{UserID: "u" + strconv.Itoa(i), DeviceKey: "u" + strconv.Itoa(i) + "/d",
			Token: tok, Platform: "android", Locale: "en", Timezone: "Asia/Shanghai", PushEnabled: true, LastSeenAt: now})
	}
	resetPeakRSS(b)
	fcm, fake := outboxFCM(b)
	fake.SetCountOnly(true)
	e := newEngine(db, fcm, &countingInbox{})
	e.Recipients = rec
	e.PollInterval = time.Second // the production default; completions do not wait for it
	run(b, e)
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		fake.Reset()
		waitSent(b, e, fake, enqueue(b, e, announcement("mem-"+strconv.Itoa(i))), devices)
	}
	b.ReportMetric(float64(devices*b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
	exactlyOnce(b, fake, tokens)
}
