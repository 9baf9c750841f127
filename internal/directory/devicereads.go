package directory

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// deviceReader reads the devices of named users (an approver's, a feedback author's) for
// push fan-outs on FerretDB, where `{user_id: {$in: ...}}` reads the whole devices collection:
// with 10,000 devices on a shared FerretDB that took 5–9 s per approval push in the fault rig,
// and concurrent pushes each paid it. Reads that arrive while one is in flight wait for it to
// end and then share the next one: one query for the union of their users, whose result is
// handed to each caller filtered to its own users. Every caller's result is read after its
// call began, so it is as fresh as a query of its own; at most one such read per process is in
// flight. On MongoDB the query uses the user_id index and each caller sends its own.
type deviceReader struct {
	db *mongodb.DB

	mu       sync.Mutex
	reading  bool
	pending  []*deviceRead
	queries  int           // queries sent, for tests
	beforeGo func(n int)   // test hook: called by the reader with the number of callers it serves
	timeout  time.Duration // of one shared query; zero means sharedReadTimeout
}

// sharedReadTimeout bounds one shared read: it does not run on any one caller's context, so
// that a caller that gives up does not fail the others.
const sharedReadTimeout = 2 * time.Minute

// deviceRead is one caller's request.
type deviceRead struct {
	users map[string]bool
	done  chan struct{}
	devs  []recipientDevice
	err   error
}

// deviceReaders holds one deviceReader per database handle (a process has one).
var deviceReaders sync.Map // *mongodb.DB -> *deviceReader

func readerFor(db *mongodb.DB) *deviceReader {
	if r, ok := deviceReaders.Load(db); ok {
		return r.(*deviceReader)
	}
	r, _ := deviceReaders.LoadOrStore(db, &deviceReader{db: db})
	return r.(*deviceReader)
}

// read returns the devices of users, in the order the database stores them. It returns ctx's
// error if ctx ends first (the shared read goes on for the others) and the query's error
// otherwise.
func (r *deviceReader) read(ctx context.Context, users map[string]bool) ([]recipientDevice, error) {
	req := &deviceRead{users: maps.Clone(users), done: make(chan struct{})} // the caller may change its map once it stops waiting
	r.mu.Lock()
	r.pending = append(r.pending, req)
	lead := !r.reading
	r.reading = true
	r.mu.Unlock()
	if lead {
		go r.loop()
	}
	select {
	case <-req.done:
		return req.devs, req.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// loop serves the pending reads, one shared query at a time, until none is left.
func (r *deviceReader) loop() {
	for {
		r.mu.Lock()
		batch := r.pending
		r.pending = nil
		if len(batch) == 0 {
			r.reading = false
			r.mu.Unlock()
			return
		}
		r.queries++
		hook, timeout := r.beforeGo, r.timeout
		r.mu.Unlock()
		if hook != nil {
			hook(len(batch))
		}
		if timeout == 0 {
			timeout = sharedReadTimeout
		}
		r.serve(batch, timeout)
	}
}

// serve sends one query for the union of batch's users and hands each caller its devices.
func (r *deviceReader) serve(batch []*deviceRead, timeout time.Duration) {
	union := make(map[string]bool)
	for _, req := range batch {
		for id := range req.users {
			union[id] = true
		}
	}
	ids := make([]string, 0, len(union))
	for id := range union {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	all, err := findDevicesOf(ctx, r.db, ids)
	for _, req := range batch {
		if err != nil {
			req.err = err
		} else {
			for _, d := range all {
				if _, ok := req.users[d.UserID]; ok {
					req.devs = append(req.devs, d)
				}
			}
		}
		close(req.done)
	}
}

// findDevicesOf reads the devices of the users ids, whole, in the order the database stores them.
func findDevicesOf(ctx context.Context, db *mongodb.DB, ids []string) ([]recipientDevice, error) {
	filter := bson.D{{Key: "user_id", Value: bson.D{{Key: "$in", Value: ids}}}}
	return mongodb.FindAll[recipientDevice](ctx, db.Collection(devicesCollection), filter, "audience devices",
		options.Find().SetProjection(recipientProjection).SetBatchSize(5000))
}
