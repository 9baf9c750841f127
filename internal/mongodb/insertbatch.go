package mongodb

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Inserts that run at the same moment on one collection of the embedded database go to it as
// one unordered insert command. FerretDB v1.24 writes one insert command's documents in one
// SQLite transaction, and an update or a one-document insert in a transaction of its own; the
// transactions are serialized (SQLite has one writer, see writegate.go), so at 16 concurrent
// one-record pushes the record inserts queued one behind the other. Batched, the pushes that a
// group commit runs together (sync/group.go) pay one transaction for their records. See
// sync/README.md, "Fewer round trips".

// maxInsertBatch bounds the documents of one coalesced command; a call bigger than that still
// goes in one command of its own.
const maxInsertBatch = 1000

// insertCall is one InsertMany waiting for, or running in, a batch.
type insertCall struct {
	ctx  context.Context
	docs []any
	done chan struct{}
	err  error
}

// insertBatcher coalesces the concurrent InsertMany calls of one collection: while one
// command is in flight, the calls that arrive queue and go together as the next one.
type insertBatcher struct {
	coll    *mongo.Collection
	mu      sync.Mutex
	running bool
	queue   []*insertCall
	sent    atomic.Int64 // commands sent, for tests
}

// InsertMany inserts docs into the named collection, unordered: every document that can be
// inserted is, and the error lists the others. The error is nil, a mongo.BulkWriteException
// whose WriteErrors index into docs (a duplicate _id is one; see IsDuplicateKey), or the error
// of the command, which then says nothing of which documents were written. On the embedded
// database, calls that run at the same moment on one collection are sent as one command (each
// caller still gets only its own documents' errors); elsewhere each call is its own command.
func (d *DB) InsertMany(ctx context.Context, coll string, docs []any) error {
	if len(docs) == 0 {
		return nil
	}
	if !d.Embedded {
		_, err := d.Collection(coll).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		return err
	}
	return d.insertBatcher(coll).insert(ctx, docs)
}

func (d *DB) insertBatcher(coll string) *insertBatcher {
	v, _ := d.inserts.LoadOrStore(coll, &insertBatcher{coll: d.Collection(coll)})
	return v.(*insertBatcher)
}

func (b *insertBatcher) insert(ctx context.Context, docs []any) error {
	c := &insertCall{ctx: ctx, docs: docs, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	var batch []*insertCall
	if !b.running {
		b.running = true
		batch = b.takeLocked()
	}
	b.mu.Unlock()
	if batch != nil {
		go b.run(batch)
	}
	// The call waits for its command even when ctx ends: once sent, its documents may be
	// written, and the caller must not be told otherwise.
	<-c.done
	return c.err
}

// takeLocked takes the next batch off the queue: the calls in arrival order while they hold at
// most maxInsertBatch documents (the first one whatever its size).
func (b *insertBatcher) takeLocked() []*insertCall {
	n, docs := 0, 0
	for n < len(b.queue) {
		if n > 0 && docs+len(b.queue[n].docs) > maxInsertBatch {
			break
		}
		docs += len(b.queue[n].docs)
		n++
	}
	batch := b.queue[:n:n]
	b.queue = append([]*insertCall(nil), b.queue[n:]...)
	return batch
}

// run sends batch, then the batches that queued meanwhile, until the queue is empty.
func (b *insertBatcher) run(batch []*insertCall) {
	for {
		b.send(batch)
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch = b.takeLocked()
		b.mu.Unlock()
	}
}

// send inserts the documents of the live calls of batch in one command and gives every call its
// own result. A call whose context ended while it queued is not sent.
func (b *insertBatcher) send(batch []*insertCall) {
	live := batch[:0:0]
	var docs []any
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		live = append(live, c)
		docs = append(docs, c.docs...)
	}
	if len(live) == 0 {
		return
	}
	// The command is everyone's: one caller giving up must not cancel the others' inserts.
	ctx := context.WithoutCancel(live[0].ctx)
	b.sent.Add(1)
	_, err := b.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bulk mongo.BulkWriteException
	if err != nil && len(live) > 1 && errors.As(err, &bulk) && bulk.WriteConcernError == nil {
		split := splitBulkErrors(bulk, live)
		for i, c := range live {
			c.err = split[i]
		}
	} else {
		for _, c := range live {
			c.err = err
		}
	}
	for _, c := range live {
		close(c.done)
	}
}

// splitBulkErrors gives each call the write errors of its own documents, indexed into them, as
// the BulkWriteException its own command would have returned (nil when it has none).
func splitBulkErrors(bulk mongo.BulkWriteException, calls []*insertCall) []error {
	per := make([][]mongo.BulkWriteError, len(calls))
	for _, we := range bulk.WriteErrors {
		i, start := 0, 0
		for i < len(calls)-1 && we.Index >= start+len(calls[i].docs) {
			start += len(calls[i].docs)
			i++
		}
		we.Index -= start
		per[i] = append(per[i], we)
	}
	out := make([]error, len(calls))
	for i, wes := range per {
		if len(wes) > 0 {
			out[i] = mongo.BulkWriteException{WriteErrors: wes, Labels: bulk.Labels}
		}
	}
	return out
}
