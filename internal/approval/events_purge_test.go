package approval

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
)

func TestEventPurgeKeepsUnprocessedEvents(t *testing.T) {
	clock := testenv.NewClock(fixtureStart)
	s := &Service{DB: testenv.Mongo(t), Now: clock.Now}
	if err := s.EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}
	done := fixtureStart
	for _, ev := range []Event{
		{ID: "oa/processed", Source: "oa", WebhookID: "processed", ReceivedAt: fixtureStart, ExpiresAt: fixtureStart.Add(EventRetention), ProcessedAt: &done, Result: ResultApplied},
		{ID: "oa/waiting", Source: "oa", WebhookID: "waiting", ReceivedAt: fixtureStart, ExpiresAt: fixtureStart.Add(EventRetention)},
	} {
		if _, err := s.coll(eventsColl).InsertOne(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(EventRetention + time.Minute)
	s.purgeEvents(t.Context())
	var left []Event
	cur, err := s.coll(eventsColl).Find(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.All(t.Context(), &left); err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].ID != "oa/waiting" {
		t.Fatalf("after the purge: %+v; want only the event still waiting to be processed", left)
	}
}
