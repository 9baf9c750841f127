package push

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// fanOut streams a notification's audience into inbox items and send batches. It holds the lease
// "fanout:<id>" and persists the source cursor after each flush (about maxBatchDevices
// recipients), so that after a crash or a shutdown another worker resumes after the last flush
// written. A flush in flight when the engine stops is finished first; one in flight at a crash is
// written again by the next holder, under new batch ids, and the push_sent claims make sure its
// devices are not sent twice.
func (e *Engine) fanOut(ctx context.Context, id string) (ran bool, err error) {
	return e.withLease(ctx, "fanout:"+id, func(l *lease) (bool, error) { return e.fanOutLeased(ctx, l, id) })
}

// fanOutLeased is fanOut under the notification's fan-out lease; it reports whether the fan-out
// is finished.
func (e *Engine) fanOutLeased(ctx context.Context, l *lease, id string) (finished bool, err error) {
	var a activeDoc
	err = e.coll(activeColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a)
	switch {
	case mongodb.IsNotFound(err):
		return true, nil // completed meanwhile
	case err != nil:
		return false, fmt.Errorf("fan out %s: %w", id, mongodb.Translate(err, "notification"))
	case a.State != stateFanout:
		return true, nil
	case a.NotBefore.After(e.Now.Stored()):
		return false, nil
	}
	n, err := e.notification(ctx, id)
	if err != nil {
		return false, fmt.Errorf("fan out: %w", err)
	}
	f := &fanout{e: e, lease: l, n: n, queued: a.Queued, prefs: prefsLookup{e: e}}
	if err := e.Recipients.Stream(l.ctx, n.Audience, a.Cursor, f.chunk); err != nil {
		return false, fmt.Errorf("fan out %s: %w", id, err)
	}
	if err := f.flush(); err != nil {
		return false, fmt.Errorf("fan out %s: %w", id, err)
	}
	if _, err := e.coll(activeColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "state", Value: stateSending}, {Key: "updated_at", Value: e.Now.Stored()},
	}}}); err != nil {
		return false, fmt.Errorf("fan out %s: %w", id, mongodb.Translate(err, "notification"))
	}
	e.log().Info("push: fanned out", "notification", id, "devices", f.queued)
	return true, nil
}

// maxBatchDevices is the size of a send batch: four Send calls of MaxBatch. Every batch costs
// the same handful of writes (its device list, header, lease and deletion, the fan-out cursor),
// and the embedded FerretDB serializes writes, so fewer, larger batches let a fan-out go faster.
const maxBatchDevices = 4 * MaxBatch

// fanout is the state of one fan-out run.
type fanout struct {
	e      *Engine
	lease  *lease
	n      *cachedNotification
	queued int64
	seq    int
	prefs  prefsLookup
	// buf collects the source's batches until a send batch's worth, with the cursor after them.
	buf    []Recipient
	cursor string
}

// chunk takes one batch from the RecipientSource and writes what it collected once that makes a
// send batch (see flush). It returns the lease's error, which stops the stream between chunks
// when the engine stops or the lease is lost.
func (f *fanout) chunk(recipients []Recipient, cursor string) error {
	if err := f.lease.ctx.Err(); err != nil {
		return err
	}
	f.buf = append(f.buf, recipients...) // copied: the source reuses its slice
	f.cursor = cursor
	if len(f.buf) < maxBatchDevices {
		return nil
	}
	return f.flush()
}

// flush writes the collected recipients: the inbox items of their users, their devices into
// send batches (grouped by when they may be sent), then the cursor. What was collected but not
// flushed when a run ends early is streamed again by the next run, from the saved cursor.
func (f *fanout) flush() error {
	// A holder that lost its lease must not write: its successor may be further along.
	if err := f.lease.ctx.Err(); err != nil {
		return err
	}
	if len(f.buf) == 0 {
		return nil
	}
	// Once started, finish even when the engine is stopping: a half-written flush is only undone
	// by writing it again.
	ctx := context.WithoutCancel(f.lease.ctx)
	users := distinctUsers(f.buf)
	if err := f.writeInbox(ctx, users); err != nil {
		return err
	}
	if f.e.pushOn() {
		if err := f.writeBatches(ctx, f.buf, users); err != nil {
			return err
		}
	}
	_, err := f.e.coll(activeColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: f.n.Key}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "cursor", Value: f.cursor}, {Key: "queued", Value: f.queued}, {Key: "updated_at", Value: f.e.Now.Stored()},
	}}})
	if err != nil {
		return fmt.Errorf("save fan-out cursor: %w", mongodb.Translate(err, "notification"))
	}
	clear(f.buf) // drop the strings: the batches hold what they need
	f.buf = f.buf[:0]
	f.e.nudge()
	return f.lease.ctx.Err()
}

func distinctUsers(recipients []Recipient) []string {
	users := make([]string, 0, len(recipients))
	for i := range recipients {
		users = append(users, recipients[i].UserID)
	}
	slices.Sort(users)
	return slices.Compact(users)
}

func (f *fanout) writeInbox(ctx context.Context, users []string) error {
	if f.e.Inbox == nil || len(users) == 0 || f.n.Silent {
		return nil
	}
	n := f.n
	items := make([]InboxItem, len(users))
	for i, u := range users {
		items[i] = InboxItem{
			ID: inboxID(u, n.Key), UserID: u, NotificationID: n.Key, Category: n.Category,
			Title: n.Title, Body: n.Body, DeepLink: n.DeepLink, Data: n.Data, CreatedAt: n.CreatedAt,
		}
	}
	if err := f.e.Inbox.Add(ctx, items); err != nil {
		return fmt.Errorf("write inbox: %w", err)
	}
	return nil
}

// writeBatches puts the pushable devices of the chunk into batches: now, or at the end of the
// user's quiet hours for non-urgent categories. A user who switched the category off gets none.
func (f *fanout) writeBatches(ctx context.Context, recipients []Recipient, users []string) error {
	prefs, err := f.prefs.get(ctx, users)
	if err != nil {
		return err
	}
	now := f.e.Now.Stored()
	urgent := f.n.Category.Urgent() || f.n.Urgent
	due := make(map[time.Time][]batchDevice)
	for i := range recipients {
		r := &recipients[i]
		if !r.pushable(now) {
			continue
		}
		at := now
		if p := prefs[r.UserID]; p != nil {
			if p.prefs.off(f.n.Category) {
				continue
			}
			if !urgent {
				if end, quiet := p.quiet.until(now, deviceZone(r.Timezone)); quiet {
					at = end
				}
			}
		}
		due[at] = append(due[at], batchDevice{Key: r.DeviceKey, User: r.UserID, Token: r.Token,
			Platform: r.Platform, Locale: r.Locale})
	}
	times := make([]time.Time, 0, len(due))
	for t := range due {
		times = append(times, t)
	}
	slices.SortFunc(times, time.Time.Compare)
	for _, t := range times {
		for devices := due[t]; len(devices) > 0; {
			n := min(len(devices), maxBatchDevices)
			if err := f.writeBatch(ctx, t, now, devices[:n]); err != nil {
				return err
			}
			devices = devices[n:]
		}
	}
	return nil
}

// deviceZone returns the device's time zone, UTC when unknown.
func deviceZone(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	loc, err := loadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// writeBatch writes one first-attempt batch: the device list, then the header that makes the
// scanner see it. Batch ids carry the fan-out lease epoch, so a holder taking over never collides
// with what its predecessor wrote.
func (f *fanout) writeBatch(ctx context.Context, notBefore, now time.Time, devices []batchDevice) error {
	f.seq++
	id := f.n.Key + "/" + strconv.Itoa(f.lease.epoch) + "." + strconv.Itoa(f.seq)
	h := batchHeader{ID: id, Notification: f.n.Key, Origin: id, Attempt: 1, Size: len(devices),
		NotBefore: notBefore, FannedOutAt: now}
	if err := f.e.insertBatch(ctx, h, devices); err != nil {
		return err
	}
	if !notBefore.After(now) {
		f.e.ready.push(id)
	}
	f.queued += int64(len(devices))
	f.e.Metrics.queued(f.n.Category, len(devices))
	return nil
}
