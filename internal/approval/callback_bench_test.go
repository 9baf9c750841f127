package approval

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/mongodb/embedded"
	"github.com/mportal/mportal/internal/testenv"
)

// BenchmarkDeliverDueIdle is the cost of one delivery pass on the embedded FerretDB when
// nothing is due, over a history of delivered decisions: what every replica pays per poll.
func BenchmarkDeliverDueIdle(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("decisions=%d", n), func(b *testing.B) {
			db := testenv.Mongo(b)
			now := fixtureStart
			var docs []any
			for i := range n {
				at := now.Add(-time.Duration(i) * time.Minute)
				docs = append(docs, Decision{ID: Key("oa1", fmt.Sprintf("t%06d", i)), Source: "oa1", TaskID: fmt.Sprintf("t%06d", i),
					FlowCode: "EXP", NodeID: "mgr", Action: ActionApprove, Via: ViaMobile, DecidedAt: at, TaskCreatedAt: at,
					Callback: Callback{State: CallbackDelivered, Attempts: 1, NextAt: at, DeliveredAt: &at}})
			}
			if _, err := db.Collection(decisionsColl).InsertMany(b.Context(), docs); err != nil {
				b.Fatal(err)
			}
			e := &Callbacks{DB: db, Now: func() time.Time { return now }}
			b.ResetTimer()
			for range b.N {
				if _, err := e.DeliverDue(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCallbackDelivery delivers decisions to a fake OA on loopback that checks every
// signature: claims, signed POSTs, delivery log and queue updates on the embedded FerretDB.
// It reports decisions delivered per second.
func BenchmarkCallbackDelivery(b *testing.B) {
	// An embedded FerretDB of its own with the _id expression indexes Main adds (the shared test
	// server has none, so every lookup by _id would scan).
	srv, err := embedded.Start(b.TempDir(), "127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	db, err := mongodb.Open(b.Context(), srv.URI(), "mportal", true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close(context.Background()) })
	f := newCallbackFixtureOn(b, db)
	e := f.engine("bench")
	f.decide(ActionApprove) // creates the collections, then their _id indexes
	if _, err := e.DeliverDue(b.Context()); err != nil {
		b.Fatal(err)
	}
	if err := srv.EnsureIDIndexes(b.Context(), "mportal"); err != nil {
		b.Fatal(err)
	}
	const perRound = 100
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for range perRound {
			f.decide(ActionApprove)
		}
		b.StartTimer()
		for delivered := 0; delivered < perRound; {
			n, err := e.DeliverDue(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			delivered += n
		}
	}
	b.ReportMetric(float64(b.N*perRound)/b.Elapsed().Seconds(), "decisions/s")
}
