package push

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// sendBatch sends one due batch under the lease "batch:<id>", MaxBatch devices at a time. Each
// device is claimed in push_sent just before its message goes out, and only the devices whose
// claim this call inserted are sent, so no device gets the same attempt twice whoever else works
// on the batch. Each part's results (its retry batch, its dead letters) are recorded as soon as
// it is sent, so a crash loses at most the one part in flight: its devices are claimed, so no
// later run sends them again, and their retries were not yet written. (Recorded once for the
// whole batch, a crash during the last part lost every earlier part's retries too.) Results
// are recorded even if the engine is stopping. When it stops (or the lease is lost) between
// parts, the batch stays for a later run, whose claims skip the parts already sent; a shutdown
// so waits for one part at most.
func (e *Engine) sendBatch(ctx context.Context, id string) (ran bool, err error) {
	if !e.pushOn() {
		return false, nil
	}
	return e.withLease(ctx, "batch:"+id, func(l *lease) (bool, error) { return e.sendLeased(ctx, l, id) })
}

// sendLeased is sendBatch under the batch's lease; it reports whether the batch is finished.
func (e *Engine) sendLeased(ctx context.Context, l *lease, id string) (finished bool, err error) {
	var h batchHeader
	err = e.coll(batchesColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&h)
	switch {
	case mongodb.IsNotFound(err):
		return true, nil // sent meanwhile
	case err != nil:
		return false, fmt.Errorf("read batch %s: %w", id, mongodb.Translate(err, "batch"))
	case h.NotBefore.After(e.Now.Stored()):
		return false, nil
	}
	devices, err := e.loadDevices(ctx, &h)
	if err != nil {
		return false, err
	}
	n, err := e.notification(ctx, h.Notification)
	if err != nil {
		return false, fmt.Errorf("send batch %s: %w", id, err)
	}
	if e.Now.Stored().Sub(h.FannedOutAt) > e.verifyAfter() {
		if devices, err = e.verifyOwners(ctx, devices); err != nil {
			return false, fmt.Errorf("send batch %s: %w", id, err)
		}
	}
	if devices, err = e.notSuperseded(ctx, &n.Notification, devices); err != nil {
		return false, fmt.Errorf("send batch %s: %w", id, err)
	}
	if !l.valid() {
		return false, l.ctx.Err()
	}
	work := context.WithoutCancel(ctx)
	for i, start := 0, 0; start < len(devices); i, start = i+1, start+MaxBatch {
		if start > 0 && !l.valid() {
			return false, l.ctx.Err() // the engine stops or the lease was lost
		}
		part := devices[start:min(start+MaxBatch, len(devices))]
		owner := id + "/" + strconv.Itoa(l.epoch) + "." + strconv.Itoa(i)
		claimed, unclaimed, err := e.claim(work, n.Key, h.Attempt, owner, part)
		if err != nil {
			return false, fmt.Errorf("send batch %s: %w", id, err)
		}
		var results []Result
		if len(claimed) > 0 {
			results = e.send(work, n, claimed)
		}
		if err := e.record(work, &h, strconv.Itoa(l.epoch)+"."+strconv.Itoa(i), n, claimed, results, unclaimed); err != nil {
			return false, fmt.Errorf("send batch %s: %w", id, err)
		}
	}
	if err := e.deleteBatch(work, id); err != nil {
		return false, err
	}
	return true, nil
}

// sendTimeout bounds one Send call of up to MaxBatch messages.
const sendTimeout = time.Minute

// send sends the messages of devices. A failure of the whole call is a Retry for each message.
func (e *Engine) send(ctx context.Context, n *cachedNotification, devices []batchDevice) []Result {
	msgs := make([]Message, len(devices))
	for i := range devices {
		msgs[i] = n.message(&devices[i])
	}
	// Bounded, so that a hung provider cannot hold a worker (or a shutdown) forever; messages cut
	// off come back as Retry.
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	start := time.Now()
	results, err := e.Sender.Send(ctx, msgs)
	e.Metrics.sendLatency(time.Since(start))
	if err == nil && len(results) != len(msgs) {
		err = fmt.Errorf("sender returned %d results for %d messages", len(results), len(msgs))
	}
	if err != nil {
		e.log().Warn("push: send failed as a whole", "notification", n.Key, "messages", len(msgs), "err", err)
		results = make([]Result, len(msgs))
		for i := range results {
			results[i] = Result{Outcome: Retry, Reason: "send_error"}
		}
	}
	return results
}

// sentID is the push_sent claim of one attempt at one device.
func sentID(deviceKey string, attempt int) string {
	if attempt <= 1 {
		return deviceKey
	}
	return deviceKey + "~" + strconv.Itoa(attempt)
}

// claim inserts the push_sent claims of devices in one unordered insertMany, each marked with
// owner (this attempt at this part of the batch), and splits the devices: claimed by this call
// (to send), already claimed by someone (dropped), and those whose claim failed for another
// reason (unclaimed: tried again as a retry). An error without per-claim results (a connection
// lost after the insert, a write concern that timed out) takes back this owner's claims before
// it returns: the batch is run again, and claims left in place made every device of the part
// look sent by someone, so none was sent at all.
func (e *Engine) claim(ctx context.Context, id string, attempt int, owner string, devices []batchDevice) (claimed, unclaimed []batchDevice, err error) {
	if len(devices) == 0 {
		return nil, nil, nil
	}
	docs := make([]any, len(devices))
	ids := make(bson.A, len(devices))
	for i := range devices {
		ids[i] = sentID(devices[i].Key, attempt)
		docs[i] = bson.D{{Key: "_id", Value: ids[i]}, {Key: "by", Value: owner}}
	}
	_, err = e.sentColl(id).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if e.claimsInserted != nil {
		err = e.claimsInserted(err)
	}
	if err == nil {
		return devices, nil, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		if _, derr := e.sentColl(id).DeleteMany(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}},
			{Key: "by", Value: owner}}); derr != nil {
			e.log().Warn("push: claims of a failed insert not taken back; their devices miss this push", "notification", id,
				"devices", len(devices), "err", derr)
		}
		return nil, nil, fmt.Errorf("claim sends: %w", mongodb.Translate(err, "claim"))
	}
	lost := make(map[int]bool, len(bwe.WriteErrors))
	for _, we := range bwe.WriteErrors {
		if we.Code != duplicateKeyCode {
			unclaimed = append(unclaimed, devices[we.Index])
		}
		lost[we.Index] = true
	}
	for i := range devices {
		if !lost[i] {
			claimed = append(claimed, devices[i])
		}
	}
	return claimed, unclaimed, nil
}

// duplicateKeyCode is the server's code for an insert whose _id exists.
const duplicateKeyCode = 11000

// onlyDuplicates reports whether a failed unordered insertMany only met documents that exist
// already, which for idempotent writes is success.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != duplicateKeyCode {
			return false
		}
	}
	return true
}
