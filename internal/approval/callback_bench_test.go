package approval

import (
	"fmt"
	"testing"
	"time"

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
			if _, err := db.Collection(DecisionsColl).InsertMany(b.Context(), docs); err != nil {
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
