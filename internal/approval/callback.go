package approval

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
)

// Callbacks delivers the decisions made in mportal to their integration's callback URL: the
// decisions collection is the durable outbox (each decision carries its delivery state in its
// callback sub-document), every attempt is claimed by inserting its delivery log document, and
// failed attempts are retried on the Standard Webhooks schedule. Engines on several replicas
// share the work safely; see the README.
//
// DB is required; Client defaults to an http.Client with a 15 s timeout, Now to time.Now,
// Jitter to up to 10% of each delay, Holder to a random name.
type Callbacks struct {
	DB     *mongodb.DB
	Client *http.Client
	Now    clock.Func
	Jitter func(time.Duration) time.Duration
	Holder string
	Log    *slog.Logger
	// Interval is how often Run looks for due decisions (default 1 s).
	Interval time.Duration
	// Batch is how many due decisions one pass handles at most (default 100).
	Batch int
	// Retention is how long the delivery log keeps an attempt (default
	// DefaultDeliveryRetention, at least an hour); PurgeDeliveries deletes older ones.
	Retention time.Duration

	once sync.Once
}

// callbackTimeout is the default time the OA has to answer one attempt.
const callbackTimeout = 15 * time.Second

// leaseMargin is added to the client timeout: after that long an attempt without an outcome is
// taken to be lost (its engine crashed) and the next one may be made.
const leaseMargin = 30 * time.Second

// holder names this engine in the delivery log; a random name unless Holder is set.
func (c *Callbacks) holder() string {
	c.once.Do(func() {
		if c.Holder == "" {
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			c.Holder = hex.EncodeToString(b)
		}
	})
	return c.Holder
}

func (c *Callbacks) client() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return defaultCallbackClient
}

// defaultCallbackClient does not follow redirects: a 3xx is a failed attempt (logged with its
// status), never a decision re-posted to wherever the answer points.
var defaultCallbackClient = &http.Client{
	Timeout:       callbackTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (c *Callbacks) timeout() time.Duration {
	if t := c.client().Timeout; t > 0 {
		return t
	}
	return callbackTimeout
}

func (c *Callbacks) jitter(d time.Duration) time.Duration {
	if c.Jitter != nil {
		return c.Jitter(d)
	}
	return defaultJitter(d)
}

func (c *Callbacks) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

func (c *Callbacks) batch() int {
	if c.Batch > 0 {
		return c.Batch
	}
	return 100
}

// ReconcileInterval is how often Run looks for pending decisions missing from the queue.
const ReconcileInterval = 10 * time.Minute

// Run delivers due decisions every Interval until ctx ends, and reconciles the queue at start
// and every ReconcileInterval. Errors are logged and retried at the next tick.
func (c *Callbacks) Run(ctx context.Context) {
	interval := c.Interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var reconciled time.Time
	for {
		if time.Since(reconciled) >= ReconcileInterval {
			if _, err := c.Reconcile(ctx); err != nil && ctx.Err() == nil {
				c.log().Warn("approval: reconcile callbacks", "err", err)
			} else {
				reconciled = time.Now()
			}
		}
		if _, err := c.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			c.log().Warn("approval: callbacks", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DeliverDue makes one pass: every decision whose next attempt is due is offered to its OA once
// (unless another engine is doing it). It returns how many attempts this engine made.
func (c *Callbacks) DeliverDue(ctx context.Context) (int, error) {
	jobs, err := c.due(ctx)
	if err != nil {
		return 0, err
	}
	made := 0
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		ok, err := c.attempt(ctx, j)
		if err != nil {
			c.log().Warn("approval: callback attempt", "decision", j.decisionID, "err", err)
			continue
		}
		if ok {
			made++
		}
	}
	return made, nil
}

// callbackJob is a decision due for delivery, as read from the outbox.
type callbackJob struct {
	decisionID, taskID, integrationID string
	attempts                          int // attempts claimed so far
	round                             int // attempts in the current schedule round
	trigger                           string
	body                              []byte
}

// deletedSourceRetry is how long a callback whose integration was deleted waits before it is
// looked at again.
const deletedSourceRetry = time.Hour

// target is what an attempt needs of an integration.
type target struct {
	url     string
	secrets []string // "whsec_..." keys
	enabled bool
}

// attempt claims and makes the next attempt of j. It returns false when another engine has it.
func (c *Callbacks) attempt(ctx context.Context, j callbackJob) (bool, error) {
	tg, err := c.target(ctx, j.integrationID)
	if apperr.Is(err, apperr.NotFound) {
		// The integration was deleted: the decision waits (an integration created again under
		// the id resumes it) behind the others. Left due, 100 of them filled every pass's batch,
		// and no other integration's callback went out again.
		return false, c.requeue(ctx, j.decisionID, j.integrationID, c.Now.Stored().Add(deletedSourceRetry))
	}
	if err != nil {
		return false, err
	}
	if !tg.enabled {
		return false, nil // kept pending: delivery resumes when an admin enables it again
	}
	d, err := c.claimNext(ctx, &j)
	if err != nil || d == nil {
		return false, err
	}
	c.send(ctx, j, tg, d)
	// The outcome is recorded even when ctx ended mid-request (a shutdown): the attempt is then
	// marked interrupted and is due again at once.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return true, c.record(rctx, j, d)
}

// claimNext claims the attempt after the last one j knows of. When that attempt is claimed
// already it looks at it: in flight (lease live) means someone else has it; finished or lost
// (lease over) means j's view was stale or its engine crashed, and the attempt after it is tried.
func (c *Callbacks) claimNext(ctx context.Context, j *callbackJob) (*Delivery, error) {
	for n := j.attempts + 1; n <= j.attempts+MaxCallbackAttempts*4; n++ {
		now := c.Now.Stored()
		d := &Delivery{
			ID: deliveryID(j.decisionID, n), Source: j.integrationID, DecisionID: j.decisionID,
			TaskID: j.taskID, WebhookID: webhookID(j.decisionID), Attempt: n, Trigger: j.trigger,
			Holder: c.holder(), StartedAt: now, LeaseUntil: now.Add(c.timeout() + leaseMargin),
		}
		won, err := c.claimAttempt(ctx, d)
		if err != nil {
			return nil, err
		}
		if won {
			return d, nil
		}
		prev, err := c.loadDelivery(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		if prev.LeaseUntil.After(now) {
			return nil, nil
		}
		if prev.Outcome == OutcomeDelivered {
			// Its engine stopped before marking the decision delivered; finish that for it.
			return nil, c.markDelivered(ctx, j.decisionID, prev)
		}
		j.round++
	}
	return nil, fmt.Errorf("decision %s: too many lost attempts", j.decisionID)
}

// webhookID is the webhook-id of a decision's callback: stable across attempts and replays.
func webhookID(decisionID string) string { return "decision_" + decisionID }

// send makes one HTTP attempt and fills in d's outcome.
func (c *Callbacks) send(ctx context.Context, j callbackJob, tg target, d *Delivery) {
	start := time.Now()
	defer func() { d.DurationMS = time.Since(start).Milliseconds() }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tg.url, bytes.NewReader(j.body))
	if err != nil {
		d.Outcome, d.Error = OutcomeFailed, "bad callback URL: "+err.Error()
		return
	}
	for k, v := range signWebhook(d.WebhookID, c.Now.Stored(), j.body, tg.secrets) {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mportal-approval-callback/1")
	resp, err := c.client().Do(req)
	switch {
	case err != nil && ctx.Err() != nil:
		d.Outcome, d.Error = OutcomeInterrupted, "stopped mid-request"
		return
	case err != nil && isTimeout(err):
		d.Outcome, d.Error = OutcomeTimeout, "no answer within "+c.timeout().String()
		return
	case err != nil:
		d.Outcome, d.Error = OutcomeFailed, requestError(err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	d.StatusCode = resp.StatusCode
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		d.Outcome = OutcomeDelivered
	case resp.StatusCode == http.StatusGone:
		d.Outcome, d.Error = OutcomeGone, "the OA answered 410 Gone: integration disabled"
	default:
		d.Outcome, d.Error = OutcomeFailed, fmt.Sprintf("the OA answered %d", resp.StatusCode)
		d.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.Now.Stored())
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// requestError is the text of a failed request's error without the callback URL's query,
// fragment or user info, which may carry a credential of the OA's: Go's client quotes the
// whole URL in its errors, and this text goes to the delivery log and the server's log.
func requestError(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err.Error()
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return ue.Op + ": " + ue.Err.Error()
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return (&url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}).Error()
}
