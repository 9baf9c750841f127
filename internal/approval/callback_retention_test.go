package approval

import (
	"testing"
	"time"
)

func TestDeliveryLogKeepsABoundedWindow(t *testing.T) {
	t.Run("the default window is 30 days", func(t *testing.T) {
		f := newCallbackFixture(t)
		e := f.engine("a")
		old := f.decide("approve")
		f.pass(e)
		f.clock.Advance(20 * 24 * time.Hour)
		recent := f.decide("reject")
		f.pass(e)
		f.clock.Advance(10*24*time.Hour - time.Second)
		if n, err := e.PurgeDeliveries(t.Context()); err != nil || n != 0 {
			t.Fatalf("purge one second before the window ends: %d deleted, %v", n, err)
		}
		f.clock.Advance(time.Second + time.Millisecond)
		if n, err := e.PurgeDeliveries(t.Context()); err != nil || n != 1 {
			t.Fatalf("purge after 30 days: %d deleted, %v", n, err)
		}
		log := f.log()
		if len(log) != 1 || log[0].DecisionID != recent {
			t.Fatalf("log after the purge: %+v", log)
		}
		if n := f.pass(e); n != 0 {
			t.Errorf("a delivered decision whose log was purged went out again: %d attempts", n)
		}
		if cb := f.callback(old); cb.State != CallbackDelivered {
			t.Errorf("the purge changed the decision: %+v", cb)
		}
	})
	t.Run("a decision still retrying goes on with its next attempt number", func(t *testing.T) {
		f := newCallbackFixture(t)
		e := f.engine("a")
		e.Retention = 2 * time.Hour
		f.oa.always(oaFail)
		id := f.decide("approve")
		// Attempts 1 to 5 at 0, 5 s, 5 min 5 s, 35 min 5 s and 2 h 35 min 5 s.
		for _, d := range []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour} {
			f.clock.Advance(d)
			if n := f.pass(e); n != 1 {
				t.Fatalf("attempt after %v: %d", d, n)
			}
		}
		if n, err := e.PurgeDeliveries(t.Context()); err != nil || n != 3 {
			t.Fatalf("purge with a 2 h window: %d deleted, %v", n, err)
		}
		if log := f.log(); len(log) != 2 || log[0].Attempt != 5 || log[1].Attempt != 4 {
			t.Fatalf("log after the purge: %+v", log)
		}
		f.oa.always(oaAck)
		f.clock.Advance(5 * time.Hour)
		if n := f.pass(e); n != 1 {
			t.Fatalf("attempt 6: %d", n)
		}
		if log := f.log(); log[0].Attempt != 6 || log[0].Outcome != OutcomeDelivered {
			t.Fatalf("attempt 6: %+v", log[0])
		}
		if cb := f.callback(id); cb.State != CallbackDelivered || cb.Attempts != 6 {
			t.Fatalf("callback: %+v", cb)
		}
	})
}
