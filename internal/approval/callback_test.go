package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

var (
	adminPrincipal = &auth.Principal{UserID: "admin", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}}
	opsPrincipal   = &auth.Principal{UserID: "ops", Roles: []auth.Role{auth.RoleEmployee, auth.RoleOps}}
	employee       = &auth.Principal{UserID: "emp", Roles: []auth.Role{auth.RoleEmployee, auth.RoleApprover}}
)

func TestCallbackDeliversEachDecisionSignedOnce(t *testing.T) {
	f := newCallbackFixture(t)
	e := f.engine("a")
	id := f.decide("approve")
	if n := f.pass(e); n != 1 {
		t.Fatalf("attempts: %d", n)
	}
	received, applied, bad := f.oa.counts()
	if bad != 0 || applied != 1 || received[webhookID(id)] != 1 {
		t.Fatalf("the OA received %v, applied %d, bad signatures %d", received, applied, bad)
	}
	var got callbackPayload
	if err := json.Unmarshal(f.oa.appliedBody(webhookID(id)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != CallbackEventType || got.Data.TaskID != "task-001" || got.Data.Source != f.integration ||
		got.Data.Action != "approve" || got.Data.Via != "mobile" || got.Data.ActionContext != "opaque-task-001" ||
		got.Data.EmployeeNo != "E100" || got.Data.TaskVersion != 7 {
		t.Errorf("payload: %+v", got)
	}
	if cb := f.callback(id); cb.State != CallbackDelivered || cb.Attempts != 1 || cb.DeliveredAt == nil {
		t.Errorf("callback state: %+v", cb)
	}
	f.clock.Advance(24 * time.Hour)
	if n := f.pass(e); n != 0 {
		t.Errorf("a delivered decision is not sent again: %d attempts", n)
	}
	log := f.log()
	if len(log) != 1 || log[0].Outcome != OutcomeDelivered || log[0].StatusCode != 204 || log[0].Attempt != 1 ||
		log[0].WebhookID != webhookID(id) || log[0].Trigger != "schedule" {
		t.Errorf("delivery log: %+v", log)
	}

	t.Run("an admin replays it with the same webhook-id", func(t *testing.T) {
		r, err := e.Replay(t.Context(), adminPrincipal, f.integration, log[0].ID)
		if err != nil || r.WebhookID != webhookID(id) {
			t.Fatalf("replay: %+v %v", r, err)
		}
		f.pass(e)
		received, applied, _ := f.oa.counts()
		if received[webhookID(id)] != 2 || applied != 1 {
			t.Errorf("received %v applied %d: the OA dedupes the replay by webhook-id", received, applied)
		}
		if log := f.log(); log[0].Trigger != "replay" || log[0].Attempt != 2 || log[0].Outcome != OutcomeDelivered {
			t.Errorf("log after replay: %+v", log[0])
		}
	})
	t.Run("replay and log are for admins of that integration", func(t *testing.T) {
		for _, p := range []*auth.Principal{opsPrincipal, employee} {
			if _, err := e.Replay(t.Context(), p, f.integration, log[0].ID); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("replay by %v: %v", p.Roles, err)
			}
			if _, err := e.Deliveries(t.Context(), p, f.integration, 10); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("log for %v: %v", p.Roles, err)
			}
		}
		if _, err := e.Replay(t.Context(), adminPrincipal, "other", log[0].ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("replay through another integration: %v", err)
		}
		if _, err := e.Deliveries(t.Context(), adminPrincipal, "missing", 10); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("log of an unknown integration: %v", err)
		}
		if _, err := e.Deliveries(t.Context(), adminPrincipal, f.integration, 0); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("limit 0: %v", err)
		}
	})
}

func TestCallbackRetriesOnTheStandardWebhooksSchedule(t *testing.T) {
	f := newCallbackFixture(t)
	e := f.engine("a")
	f.oa.always(oaFail)
	id := f.decide("reject")
	schedule := []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	for i, d := range schedule {
		if d > 0 {
			f.clock.Advance(d - time.Millisecond)
			if n := f.pass(e); n != 0 {
				t.Fatalf("attempt %d went out %v early", i+1, time.Millisecond)
			}
			f.clock.Advance(time.Millisecond)
		}
		if n := f.pass(e); n != 1 {
			t.Fatalf("attempt %d did not go out after %v", i+1, d)
		}
	}
	cb := f.callback(id)
	if cb.State != CallbackFailed || cb.Attempts != 8 {
		t.Fatalf("after 8 failures: %+v", cb)
	}
	f.clock.Advance(100 * time.Hour)
	if n := f.pass(e); n != 0 {
		t.Errorf("a given-up decision is not retried: %d", n)
	}
	log := f.log()
	if len(log) != 8 || log[0].NextAttemptAt != nil || log[1].NextAttemptAt == nil || log[0].Outcome != OutcomeFailed || log[0].StatusCode != 500 {
		t.Errorf("log: %+v", log)
	}

	t.Run("a replay starts the schedule again", func(t *testing.T) {
		f.oa.then(oaFail)
		f.oa.always(oaAck)
		if _, err := e.Replay(t.Context(), adminPrincipal, f.integration, log[0].ID); err != nil {
			t.Fatal(err)
		}
		f.pass(e)
		if cb := f.callback(id); cb.State != CallbackPending || cb.Round != 1 || !cb.NextAt.Equal(f.clock.Now().Add(5*time.Second).Truncate(time.Millisecond)) {
			t.Errorf("after a failed replay: %+v", cb)
		}
		f.clock.Advance(5 * time.Second)
		f.pass(e)
		if cb := f.callback(id); cb.State != CallbackDelivered || cb.Attempts != 10 {
			t.Errorf("after the second attempt of the replay: %+v", cb)
		}
	})
}

func TestCallbackHonoursRetryAfter(t *testing.T) {
	f := newCallbackFixture(t)
	e := f.engine("a")
	f.oa.then(oaAnswer{status: http.StatusServiceUnavailable, retryAfter: "3600"}, oaAnswer{status: http.StatusTooManyRequests, retryAfter: "1"})
	id := f.decide("approve")
	f.pass(e)
	if cb := f.callback(id); !cb.NextAt.Equal(fixtureStart.Add(time.Hour)) {
		t.Fatalf("Retry-After: 3600 after attempt 1: next at %v", cb.NextAt)
	}
	f.clock.Advance(time.Hour)
	f.pass(e)
	if cb := f.callback(id); !cb.NextAt.Equal(fixtureStart.Add(time.Hour + 5*time.Minute)) {
		t.Fatalf("Retry-After: 1 is shorter than the schedule's 5 min: next at %v", cb.NextAt)
	}
}

func TestCallbackTimesOutAndRetries(t *testing.T) {
	f := newCallbackFixture(t)
	e := f.engine("a")
	// Long enough for the request to reach the OA (which then hangs) on a loaded machine.
	e.Client = &http.Client{Timeout: time.Second}
	f.oa.then(oaAnswer{status: 204, hang: true})
	id := f.decide("approve")
	f.pass(e)
	log := f.log()
	if len(log) != 1 || log[0].Outcome != OutcomeTimeout {
		t.Fatalf("log: %+v", log)
	}
	if received, _, _ := f.oa.counts(); received[webhookID(id)] != 1 {
		t.Fatalf("the OA received %v: the hanging answer was not the one timed out", received)
	}
	e.Client = &http.Client{Timeout: 10 * time.Second} // the retry gets an ordinary answer
	if cb := f.callback(id); cb.State != CallbackPending || !cb.NextAt.Equal(f.clock.Now().Truncate(time.Millisecond).Add(5*time.Second)) {
		t.Errorf("after a timeout: %+v", cb)
	}
	f.clock.Advance(5 * time.Second)
	f.pass(e)
	if cb := f.callback(id); cb.State != CallbackDelivered {
		t.Errorf("second attempt: %+v", cb)
	}
}

func TestCallbackGoneDisablesTheIntegration(t *testing.T) {
	f := newCallbackFixture(t)
	e := f.engine("a")
	f.oa.then(oaGone)
	first, second := f.decide("approve"), f.decide("reject")
	f.pass(e)
	if f.enabled() {
		t.Fatal("410 Gone leaves the integration enabled")
	}
	received, _, _ := f.oa.counts()
	if len(received) != 1 {
		t.Errorf("after the 410 nothing more goes out: %v", received)
	}
	f.clock.Advance(48 * time.Hour)
	if n := f.pass(e); n != 0 {
		t.Errorf("%d attempts to a disabled integration", n)
	}
	if cb1, cb2 := f.callback(first), f.callback(second); cb1.State != CallbackPending || cb2.State != CallbackPending {
		t.Errorf("decisions wait for the integration: %+v %+v", cb1, cb2)
	}
	// An admin enables it again (the integration API): both decisions go out.
	_, err := f.db.Collection(integrationsColl).UpdateOne(t.Context(), bson.D{{Key: "_id", Value: f.integration}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "enabled", Value: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	f.pass(e)
	if _, applied, _ := f.oa.counts(); applied != 2 {
		t.Errorf("applied %d after re-enabling", applied)
	}
}

func TestCallbackSurvivesARestartMidDelivery(t *testing.T) {
	f := newCallbackFixture(t)
	ids := []string{f.decide("approve"), f.decide("reject"), f.decide("approve")}
	f.oa.then(oaAnswer{status: 204, hang: true})

	t.Run("a stopped engine's request is retried at once, and delivered once", func(t *testing.T) {
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = f.engine("old").DeliverDue(ctx)
		}()
		f.oa.waitArrival() // the first decision is in flight
		stop()
		<-done
		if n := f.pass(f.engine("new")); n != 3 {
			t.Fatalf("the new engine made %d attempts", n)
		}
		received, applied, _ := f.oa.counts()
		if applied != 3 {
			t.Fatalf("applied %d of 3 (received %v)", applied, received)
		}
		log := f.log()
		outcomes := map[string]int{}
		for _, d := range log {
			outcomes[d.Outcome]++
		}
		if outcomes[OutcomeInterrupted] != 1 || outcomes[OutcomeDelivered] != 3 {
			t.Errorf("log: %v", outcomes)
		}
	})

	t.Run("a crashed engine's attempt is taken over when its lease ends", func(t *testing.T) {
		id := f.decide("approve")
		e := f.engine("crashed")
		// The engine claimed attempt 1 and died before recording anything.
		now := f.clock.Now().UTC().Truncate(time.Millisecond)
		if won, err := e.claimAttempt(t.Context(), &Delivery{ID: deliveryID(id, 1), Source: f.integration,
			DecisionID: id, WebhookID: webhookID(id), Attempt: 1, Trigger: "schedule", StartedAt: now,
			LeaseUntil: now.Add(e.timeout() + leaseMargin)}); !won || err != nil {
			t.Fatal(won, err)
		}
		survivor := f.engine("survivor")
		if n := f.pass(survivor); n != 0 {
			t.Fatalf("an attempt in flight is left alone: %d attempts", n)
		}
		f.clock.Advance(e.timeout() + leaseMargin)
		if n := f.pass(survivor); n != 1 {
			t.Fatalf("after the lease: %d attempts", n)
		}
		if cb := f.callback(id); cb.State != CallbackDelivered || cb.Attempts != 2 {
			t.Errorf("callback: %+v", cb)
		}
	})
	for _, id := range ids {
		if cb := f.callback(id); cb.State != CallbackDelivered {
			t.Errorf("%s: %+v", id, cb)
		}
	}
}

func TestTwoReplicasDeliverEachDecisionOnce(t *testing.T) {
	f := newCallbackFixture(t)
	const decisions = 30
	for i := 0; i < decisions; i++ {
		f.decide([]string{"approve", "reject"}[i%2])
	}
	var wg sync.WaitGroup
	for _, name := range []string{"replica-1", "replica-2"} {
		e := f.engine(name)
		wg.Go(func() {
			for range 5 {
				if _, err := e.DeliverDue(t.Context()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	received, applied, bad := f.oa.counts()
	if applied != decisions || bad != 0 {
		t.Fatalf("applied %d of %d, bad signatures %d", applied, decisions, bad)
	}
	for id, n := range received {
		if n != 1 {
			t.Errorf("%s was sent %d times", id, n)
		}
	}
	if log := f.log(); len(log) != decisions {
		t.Errorf("%d attempts logged for %d decisions", len(log), decisions)
	}
}

func TestCallbackQueueIsReconciledAfterACrash(t *testing.T) {
	f := newCallbackFixture(t)
	id := f.decide("approve")
	// The process stopped between storing the decision and queueing it.
	if err := f.engine("a").dequeue(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	e := f.engine("restarted")
	if n := f.pass(e); n != 0 {
		t.Fatalf("%d attempts without a queue entry", n)
	}
	if added, err := e.Reconcile(t.Context()); err != nil || added != 1 {
		t.Fatalf("reconcile: %d %v", added, err)
	}
	if added, err := e.Reconcile(t.Context()); err != nil || added != 0 {
		t.Fatalf("second reconcile: %d %v", added, err)
	}
	if n := f.pass(e); n != 1 {
		t.Fatalf("after reconciling: %d attempts", n)
	}
	if cb := f.callback(id); cb.State != CallbackDelivered {
		t.Errorf("callback: %+v", cb)
	}
}

// A request that fails is logged without the callback URL's query, which may carry a
// credential of the OA's: Go's client quotes the whole URL in its errors.
func TestCallbackFailureKeepsTheURLQueryOut(t *testing.T) {
	f := newCallbackFixture(t)
	if _, err := f.db.Collection(integrationsColl).UpdateOne(t.Context(), bson.D{{Key: "_id", Value: f.integration}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "callback_url", Value: f.oa.url() + "?token=oa-credential-1"}}}}); err != nil {
		t.Fatal(err)
	}
	e := f.engine("a")
	e.Client = &http.Client{Transport: failingTransport{}}
	f.decide("approve")
	f.pass(e)
	log := f.log()
	if len(log) != 1 || log[0].Outcome != OutcomeFailed {
		t.Fatalf("log: %+v", log)
	}
	if strings.Contains(log[0].Error, "oa-credential-1") || !strings.Contains(log[0].Error, "connection refused") {
		t.Errorf("the delivery log's error is %q", log[0].Error)
	}
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
}

// TestCallbacksOfADeletedIntegrationDoNotBlockTheQueue: decisions of an integration an admin
// deleted wait behind the others. Before, they stayed due at the head of the queue, and once a
// pass's batch was full of them no other integration's callback went out again.
func TestCallbacksOfADeletedIntegrationDoNotBlockTheQueue(t *testing.T) {
	f := newCallbackFixture(t)
	e := f.engine("a")
	e.Batch = 3
	now := f.clock.Now().UTC().Truncate(time.Millisecond)
	for i := range 5 {
		d := &Decision{ID: Key("deleted-oa", fmt.Sprint("t", i)), Source: "deleted-oa", TaskID: fmt.Sprint("t", i),
			Action: ActionApprove, Via: ViaMobile, DecidedAt: now.Add(-time.Hour), Callback: Callback{State: CallbackPending, NextAt: now.Add(-time.Hour)}}
		if _, err := f.db.Collection(decisionsColl).InsertOne(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		queueCallback(t.Context(), f.db, d)
	}
	id := f.decide("approve")
	for range 3 {
		f.pass(e)
	}
	if cb := f.callback(id); cb.State != CallbackDelivered {
		t.Fatalf("the live integration's callback: %+v, want delivered", cb)
	}
}
