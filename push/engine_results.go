package push

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// deadLetter is a push_dead document: a message that will not be delivered, kept for support.
type deadLetter struct {
	ID           string    `bson:"_id"` // "<notification>/<device key>"
	Notification string    `bson:"notification"`
	UserID       string    `bson:"user_id"`
	DeviceKey    string    `bson:"device_key"`
	Category     Category  `bson:"category"`
	Reason       string    `bson:"reason"`
	Attempts     int       `bson:"attempts"`
	CreatedAt    time.Time `bson:"created_at"`
}

// record acts on the results of a batch: dead tokens are removed from the directory, transient
// failures go into one retry batch after a back-off, permanent failures and exhausted retries
// are dead-lettered.
//
// part is "<epoch>.<part>": the epoch of the batch lease this run holds and the part of the
// batch sent. It names the retry batch: a batch may be handled in several runs (stopped between
// parts, or two holders overlapping after a lost lease), each recording each part it sent, and
// their retry batches must not collide.
func (e *Engine) record(ctx context.Context, h *batchHeader, part string, n *cachedNotification, sent []batchDevice, results []Result, unclaimed []batchDevice) error {
	retry := unclaimed
	var retryAfter time.Duration
	var dead []any
	now := e.Now.Stored()
	kill := func(d *batchDevice, reason string) {
		dead = append(dead, deadLetter{ID: n.Key + "/" + d.Key, Notification: n.Key, UserID: d.User,
			DeviceKey: d.Key, Category: n.Category, Reason: reason, Attempts: h.Attempt, CreatedAt: now})
		e.Metrics.failed(reason)
	}
	for i := range sent {
		d, r := &sent[i], results[i]
		switch r.Outcome {
		case Delivered:
			e.Metrics.sent(n.Category)
		case TokenInvalid:
			e.Metrics.failed(reasonOr(r.Reason, "token_invalid"))
			if err := e.Recipients.RemoveToken(ctx, d.Token); err != nil {
				e.log().Warn("push: remove invalid token", "device", d.Key, "err", err)
			} else {
				e.Metrics.tokenRemoved()
			}
		case Retry:
			if h.Attempt >= e.maxAttempts() {
				kill(d, "retries exhausted: "+reasonOr(r.Reason, "retry"))
				continue
			}
			e.Metrics.failed(reasonOr(r.Reason, "retry"))
			retry = append(retry, *d)
			retryAfter = max(retryAfter, r.RetryAfter)
		default:
			kill(d, reasonOr(r.Reason, "failed"))
		}
	}
	if len(retry) > 0 {
		attempt := h.Attempt + 1
		next := batchHeader{ID: h.ID + "~" + part, Notification: n.Key, Origin: h.Origin,
			Attempt: attempt, Size: len(retry), FannedOutAt: h.FannedOutAt,
			NotBefore: now.Add(e.backoff(h.Attempt, retryAfter))}
		if err := e.insertBatch(ctx, next, retry); err != nil {
			return err
		}
	}
	if len(dead) > 0 {
		_, err := e.coll(deadColl).InsertMany(ctx, dead, options.InsertMany().SetOrdered(false))
		if err != nil && !onlyDuplicates(err) {
			return fmt.Errorf("dead-letter: %w", mongodb.Translate(err, "dead letter"))
		}
	}
	return nil
}

func reasonOr(reason, def string) string {
	if reason == "" {
		return def
	}
	return reason
}

// backoff is the delay before retry number `retry` (1 for the first): full jitter over
// base·2^(retry-1), capped, or the provider's Retry-After when that is longer.
func (e *Engine) backoff(retry int, retryAfter time.Duration) time.Duration {
	ceiling := e.backoffCap()
	if shift := retry - 1; shift < 32 {
		if d := e.backoffBase() << shift; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return max(rand.N(ceiling+1), retryAfter)
}

// verifyOwners keeps the devices that still own their tokens (see TokenOwners), and those whose
// token nobody holds any more but which hold a new one, with that one (see DeviceTokens). A token
// that moved to another device is never followed: that device may be another user's.
func (e *Engine) verifyOwners(ctx context.Context, devices []batchDevice) ([]batchDevice, error) {
	owners, ok := e.Recipients.(TokenOwners)
	if !ok || len(devices) == 0 {
		return devices, nil
	}
	current, _ := e.Recipients.(DeviceTokens)
	keep := make([]bool, len(devices))
	errs := make([]error, len(devices))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range devices {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d := &devices[i]
			_, key, err := owners.TokenOwner(ctx, d.Token)
			switch {
			case apperr.Is(err, apperr.NotFound) && current != nil:
				keep[i], errs[i] = e.followToken(ctx, owners, current, d)
			case apperr.Is(err, apperr.NotFound):
			case err != nil:
				errs[i] = err
			default:
				keep[i] = key == d.Key
			}
		})
	}
	wg.Wait()
	out := devices[:0:0]
	for i := range devices {
		if errs[i] != nil {
			return nil, fmt.Errorf("verify token owner of %s: %w", devices[i].Key, errs[i])
		}
		if keep[i] {
			out = append(out, devices[i])
		}
	}
	return out, nil
}

// followToken gives d the token its device holds now, if it has one of its own: the one its
// fan-out read was released (the app checked in with a refreshed token meanwhile).
func (e *Engine) followToken(ctx context.Context, owners TokenOwners, current DeviceTokens, d *batchDevice) (bool, error) {
	tok, err := current.DeviceToken(ctx, d.Key)
	if err != nil || tok == "" || tok == d.Token {
		return false, err
	}
	_, key, err := owners.TokenOwner(ctx, tok)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return false, nil
	case err != nil:
		return false, err
	case key != d.Key:
		return false, nil
	}
	d.Token = tok
	return true, nil
}
