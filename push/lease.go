package push

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// A lease gives one worker, in any engine, the right to work on one thing (a fan-out or a batch)
// for LeaseTTL, renewed while it works. Leases are push_leases documents "<thing>:<epoch>": taking
// a lease is a Claim of the next epoch, the one write that is atomic on the embedded FerretDB, so
// of two engines racing for a thing exactly one wins. Only the holder ever updates its document
// (to renew it or to expire it early); an expired lease is taken over by claiming epoch+1.
//
// A lease is for efficiency, not correctness: should a slow holder and a taker ever overlap, the
// push_sent claims still deliver every message at most once.
type lease struct {
	e       *Engine
	thing   string
	epoch   int
	ctx     context.Context // cancelled when the lease is lost or released
	cancel  context.CancelFunc
	stopped chan struct{}
	once    sync.Once
}

type leaseDoc struct {
	ID        string    `bson:"_id"`
	Holder    string    `bson:"holder"`
	ExpiresAt time.Time `bson:"expires_at"`
}

func leaseID(thing string, epoch int) string { return thing + ":" + strconv.Itoa(epoch) }

// maxEpochs bounds the probing of a thing's lease epochs; each one is a crashed or stopped holder.
const maxEpochs = 10000

// withLease runs fn while holding the lease on thing. fn reports whether the thing is finished:
// its lease documents are then deleted; otherwise the lease is released for the next holder.
// When someone else holds a live lease, fn does not run and withLease returns false and nil.
func (e *Engine) withLease(ctx context.Context, thing string, fn func(l *lease) (finished bool, err error)) (ran bool, err error) {
	l, err := e.acquire(ctx, thing)
	if l == nil {
		return false, err
	}
	finished := false
	defer func() {
		if finished {
			l.finish()
		} else {
			l.release()
		}
	}()
	finished, err = fn(l)
	return true, err
}

// acquire takes the lease on thing. It returns nil without error when a live lease is held by
// someone else.
//
// It reads each epoch's document before it claims one: a read by _id is cheap on every backend,
// while a claim is a write, and on FerretDB every write, a refused one too, waits its turn
// behind all the others (SQLite has one writer). Three engines offered the same batches and
// fan-outs claimed ~5,000 times in a fault-rig run, nearly all refused.
func (e *Engine) acquire(ctx context.Context, thing string) (*lease, error) {
	coll := e.coll(leasesColl)
	for epoch := 1; epoch <= maxEpochs; epoch++ {
		var held leaseDoc
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: leaseID(thing, epoch)}}).Decode(&held)
		switch {
		case err == nil && held.ExpiresAt.After(e.Now.Stored()):
			return nil, nil // live: someone else works on it
		case err == nil:
			continue // an expired holder's (crashed or released): the next epoch is free
		case !mongodb.IsNotFound(err):
			return nil, fmt.Errorf("read lease %s: %w", leaseID(thing, epoch), mongodb.Translate(err, "lease"))
		}
		// No document: the epoch is free, or a finished holder deleted its leases (whoever wins
		// then finds the thing gone).
		won, err := mongodb.Claim(ctx, coll, leaseID(thing, epoch), bson.D{
			{Key: "holder", Value: e.holder}, {Key: "expires_at", Value: e.Now.Stored().Add(e.leaseTTL())},
		})
		if err != nil {
			return nil, err
		}
		if !won {
			return nil, nil // another engine claimed it between the read and the claim
		}
		return e.startLease(ctx, thing, epoch), nil
	}
	return nil, fmt.Errorf("lease %s: more than %d epochs", thing, maxEpochs)
}

// startLease starts the renewal of a won lease.
func (e *Engine) startLease(parent context.Context, thing string, epoch int) *lease {
	ctx, cancel := context.WithCancel(parent)
	l := &lease{e: e, thing: thing, epoch: epoch, ctx: ctx, cancel: cancel, stopped: make(chan struct{})}
	go l.renew(e.Now.Stored().Add(e.leaseTTL()))
	return l
}

// renew extends the lease every third of its TTL. When the lease runs out before a renewal
// succeeds, someone may take it over, so the holder gives up: l.ctx is cancelled.
func (l *lease) renew(expires time.Time) {
	defer close(l.stopped)
	ttl := l.e.leaseTTL()
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		now := l.e.Now.Stored()
		if !now.Before(expires) {
			l.e.log().Warn("push: lease lost", "lease", leaseID(l.thing, l.epoch))
			l.cancel()
			return
		}
		next := now.Add(ttl)
		_, err := l.e.coll(leasesColl).UpdateOne(l.ctx, bson.D{{Key: "_id", Value: leaseID(l.thing, l.epoch)}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: next}}}})
		if err == nil {
			expires = next
		}
	}
}

// valid reports whether the lease is still held.
func (l *lease) valid() bool { return l.ctx.Err() == nil }

// stop ends the renewal.
func (l *lease) stop() {
	l.once.Do(l.cancel)
	<-l.stopped
}

// release hands the thing back unfinished: the lease expires now, so any engine can take it over
// at once instead of waiting out the TTL (a graceful shutdown mid-fan-out).
func (l *lease) release() {
	l.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := l.e.coll(leasesColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: leaseID(l.thing, l.epoch)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: time.Time{}}}}})
	if err != nil {
		l.e.log().Warn("push: release lease", "lease", leaseID(l.thing, l.epoch), "err", err)
	}
}

// finish deletes the thing's lease documents once the thing itself is gone.
func (l *lease) finish() {
	l.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for epoch := l.epoch; epoch >= 1; epoch-- {
		if _, err := l.e.coll(leasesColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: leaseID(l.thing, epoch)}}); err != nil {
			l.e.log().Warn("push: delete lease", "lease", leaseID(l.thing, epoch), "err", err)
			return
		}
	}
}
