package datasync

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
)

// BenchmarkBigPushStall pushes the deletes of 1,000 of alice's notes while bob writes a note
// every 20 ms and pulls in a loop, on the wall clock. stall-max-ms is the longest bob waited,
// after one of his writes committed, for a pull whose timestamp covers it: how long alice's push
// held his cursor back (the whole push when a push was one write).
func BenchmarkBigPushStall(b *testing.B) {
	const records = 1000
	db := testenv.Mongo(b)
	notes := &notesTable{db: db, now: time.Now}
	e := &Engine{DB: db}
	e.Register(notes)
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	var stalls []time.Duration
	var pushTook time.Duration
	accepted, round := 0, 0
	for b.Loop() {
		b.StopTimer()
		author := fmt.Sprintf("alice%d", round)
		seedNotes(b, e, notes, author, records)
		ids := make([]string, records)
		for i := range ids {
			ids[i] = fmt.Sprintf("%s-%05d", author, i)
		}
		body, _ := json.Marshal(map[string]any{"changes": map[string]any{"notes": map[string]any{"deleted": ids}}})
		round++
		b.StartTimer()

		type commit struct {
			seq int64
			at  time.Time
		}
		var mu sync.Mutex
		var commits []commit
		var seen []commit // pulls: the timestamp and when it was answered
		pushed, covered := make(chan struct{}), make(chan struct{})
		var writer, puller sync.WaitGroup
		writer.Go(func() { // bob's writes, until alice's push is done
			for k := 0; ; k++ {
				select {
				case <-pushed:
					return
				case <-time.After(20 * time.Millisecond):
				}
				id := fmt.Sprintf("bob-%d-%d", round, k)
				if err := notes.write(ctx, e, Record{ID: id, Keys: noteKeys("bob", ""),
					Set: bson.D{{Key: "text", Value: id}}}, nil); err != nil {
					b.Error(err)
					return
				}
				var d noteDoc
				if err := db.Collection("notes").FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				commits = append(commits, commit{d.Seq, time.Now()})
				mu.Unlock()
			}
		})
		puller.Go(func() { // bob's pulls, until his last write is covered
			for {
				select {
				case <-covered:
					return
				default:
				}
				snap, err := e.lowWater(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				seen = append(seen, commit{snap.low, time.Now()})
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
		start := time.Now()
		res, err := e.Push(ctx, employee(author), 0, body)
		pushTook += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		accepted += res.Accepted
		close(pushed)
		writer.Wait()
		if len(commits) == 0 {
			b.Fatal("bob wrote nothing during the push")
		}
		last := commits[len(commits)-1].seq // read only by this goroutine now
		for {
			mu.Lock()
			ok := len(seen) > 0 && seen[len(seen)-1].seq >= last
			mu.Unlock()
			if ok {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(covered)
		puller.Wait()
		for _, c := range commits {
			i := slices.IndexFunc(seen, func(s commit) bool { return s.seq >= c.seq && s.at.After(c.at) })
			if i >= 0 {
				stalls = append(stalls, seen[i].at.Sub(c.at))
			}
		}
	}
	slices.Sort(stalls)
	if len(stalls) == 0 {
		b.Fatal("no write of bob's was measured")
	}
	b.ReportMetric(float64(stalls[len(stalls)-1].Milliseconds()), "stall-max-ms")
	b.ReportMetric(float64(stalls[len(stalls)/2].Milliseconds()), "stall-p50-ms")
	b.ReportMetric(pushTook.Seconds()/float64(b.N), "push-s")
	b.ReportMetric(float64(accepted)/float64(b.N), "applied/push")
}
