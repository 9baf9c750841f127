package datasync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/mportal/mportal/internal/mongodb"
)

// Group commit: the writes that arrive while others are in flight share one sequence number.
// Each write of the engine costs two updates of the sequence document (allocate, release) and a
// change-log insert, all serialized (seqMu, and SQLite's one writer on the embedded database);
// at 16 concurrent one-record pushes they were most of the time a push took. A group pays them
// once for all its members. See sync/README.md, "Group commit".
const (
	// groupsInFlight is how many groups may hold a number at once: one allocates or releases
	// while the other's writes run.
	groupsInFlight = 2
	// groupMembers bounds a group's size; its records are bounded by PushChunk, the most a
	// push writes under one number: its writes run concurrently, but a group takes about as
	// long as its records take to write one after the other, and must finish within the lease.
	groupMembers = 32
)

// member is one attempt waiting for, or running in, a group.
type member struct {
	ctx     context.Context
	fn      func(ctx context.Context, seq int64) (change, error)
	records int // how many records fn writes, as far as the caller knows (at least 1)
	done    chan struct{}
	kept    bool
	err     error
	after   []func(context.Context) error // AfterWrite's work, run by attempt once done
}

// committer queues the attempts and runs them in groups.
type committer struct {
	mu      sync.Mutex
	queue   []*member
	running int // groups in flight
}

// attempt runs fn once under a sequence number, which it may share with concurrent attempts;
// records is how many records fn writes (for the group's bound). See attemptGroup for what
// happens to the number; kept is false when the group outlived its lease.
func (e *Engine) attempt(ctx context.Context, records int, fn func(ctx context.Context, seq int64) (change, error)) (kept bool, err error) {
	if j, ok := ctx.Value(joinedKey{}).(*joined); ok && j.e == e && j.enter() {
		// Called from inside a write's fn: run in that write. Queued, it would wait for a
		// group while its caller's group waits for it; two such writes in flight took both
		// groups, and every sync write of the instance stopped (offline approval decisions,
		// which close their tasks with a write of their own). Its fate is the outer write's:
		// should that one outlive its lease, its fn, and so this, runs again.
		var ch change
		defer func() { j.add(ch) }() // even if fn panics: the outer write waits for it
		ch, err = fn(ctx, j.seq)
		return true, err
	}
	m := &member{ctx: ctx, fn: fn, records: max(1, records), done: make(chan struct{})}
	defer func() {
		// Only after a write that stands: a failed one returns its error, and one that outlived
		// its lease runs again, queueing its work again.
		if !kept || err != nil {
			return
		}
		for _, after := range m.after {
			if err = after(ctx); err != nil {
				return
			}
		}
	}()
	c := &e.groups
	c.mu.Lock()
	c.queue = append(c.queue, m)
	var g []*member
	if c.running < groupsInFlight {
		c.running++
		g = c.takeLocked(e.pushChunk())
	}
	c.mu.Unlock()
	if g != nil {
		go e.runGroups(g)
	}
	<-m.done
	return m.kept, m.err
}

// takeLocked takes the next group off the queue: the attempts in arrival order while the group
// has fewer than groupMembers and at most most records (the first one whatever its size).
func (c *committer) takeLocked(most int) []*member {
	n, records := 0, 0
	for n < len(c.queue) && n < groupMembers {
		if n > 0 && records+c.queue[n].records > most {
			break
		}
		records += c.queue[n].records
		n++
	}
	g := slices.Clone(c.queue[:n])
	c.queue = slices.Delete(c.queue, 0, n)
	return g
}

// runGroups commits g, then the groups that queued meanwhile, until the queue is empty.
func (e *Engine) runGroups(g []*member) {
	c := &e.groups
	for {
		e.attemptGroup(g)
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.running--
			c.mu.Unlock()
			return
		}
		g = c.takeLocked(e.pushChunk())
		c.mu.Unlock()
	}
}

// attemptGroup allocates one sequence number for the group, runs every member's fn with it
// (concurrently: they write different records, or take the records' locks), logs the union of
// what they touched in one change, indexes it and releases the number; the order matters, as in
// a write of its own: a puller sees the number committed only once every member's writes are in
// place and in the log. Every member then gets its own result: its fn's error (a failing member
// does not fail the others; what it touched before failing is logged all the same), else the
// bookkeeping's error, else whether the number was kept. A member whose caller gave up while
// it was queued is not run.
func (e *Engine) attemptGroup(g []*member) {
	live := g[:0:0]
	for _, m := range g {
		if err := m.ctx.Err(); err != nil {
			m.err = fmt.Errorf("wait for a sync sequence number: %w", mongodb.Translate(err, "sync sequence"))
			close(m.done)
			continue
		}
		live = append(live, m)
	}
	if len(live) == 0 {
		return
	}
	// Bookkeeping runs even when callers give up: a number left pending would hold every
	// puller's cursor back until the lease ends.
	bg := context.WithoutCancel(live[0].ctx)
	pending, err := e.allocate(bg)
	if err != nil {
		for _, m := range live {
			m.err = err
			close(m.done)
		}
		return
	}
	seq := pending.S
	changes := make([]change, len(live))
	errs := make([]error, len(live))
	if len(live) == 1 {
		changes[0], errs[0] = e.runMember(live[0], seq)
	} else {
		var wg sync.WaitGroup
		for i, m := range live {
			wg.Go(func() { changes[i], errs[i] = e.runMember(m, seq) })
		}
		wg.Wait()
	}
	logErr := e.logChange(bg, seq, mergeChanges(changes))
	abandoned := errors.Is(logErr, errLoggedAbandoned)
	if abandoned {
		logErr = nil
	}
	if logErr != nil {
		// Not released: ended now, with no entry in the change log, other instances would read
		// past it and never learn what it changed. Left pending, it is reaped after the lease
		// and logged as abandoned (every device then reads the tables again).
		for i, m := range live {
			m.err = cmp.Or(errs[i], logErr)
			close(m.done)
		}
		return
	}
	kept, relErr := e.release(bg, pending)
	kept = kept && !abandoned
	if !kept && relErr == nil {
		e.logger().Warn("sync: write outlived its lease", "seq", seq, "lease", e.lease(), "writes", len(live))
	}
	for i, m := range live {
		switch {
		case errs[i] != nil:
			m.err = errs[i]
		case relErr != nil:
			m.err = relErr
		default:
			m.kept = kept
		}
		close(m.done)
	}
}

// runMember runs m's fn with seq. A panic becomes the member's error, as it would have reached
// only its caller had the write run alone, instead of ending the process from a group's
// goroutine.
func (e *Engine) runMember(m *member, seq int64) (ch change, err error) {
	j := &joined{e: e, seq: seq}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sync write panicked: %v\n%s", r, debug.Stack())
		}
		inner, after := j.close()
		if len(inner) > 0 { // logged even when fn failed, as its own touches are
			ch = mergeChanges(append([]change{ch}, inner...))
		}
		m.after = after
	}()
	return m.fn(context.WithValue(m.ctx, joinedKey{}, j), seq)
}

// joinedKey is the context key of the write a member's fn runs in.
type joinedKey struct{}

// joined is the write a member's fn runs in, for the writes fn starts itself: they run at
// once with its number, and what they touch is logged with what fn touches. One started after
// fn returned (by a goroutine fn left behind) queues as a write of its own.
type joined struct {
	e   *Engine
	seq int64

	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup
	inner   []change
	after   []func(context.Context) error
}

// AfterWrite runs fn once the sync write that ctx belongs to (the ctx a write's fn or a table's
// Push was given) has committed, outside that write, before the write's caller gets its result;
// fn's error becomes the write's. A write that failed or outlived its lease does not run it (run
// again, the write queues it again). Outside a write, or once the
// write has ended, it runs fn at once and returns its error. It is for work that takes a lock
// other writers hold while they wait for a write of their own (an approval task's lock, which
// the OA's events hold across their writes): taken inside a write it holds a group's turn while
// they wait for one, and two such writes in flight stopped every sync write of the instance.
func AfterWrite(ctx context.Context, fn func(ctx context.Context) error) error {
	if j, ok := ctx.Value(joinedKey{}).(*joined); ok && j.postpone(fn) {
		return nil
	}
	return fn(ctx)
}

// postpone keeps fn for after the write, unless the write has ended.
func (j *joined) postpone(fn func(context.Context) error) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return false
	}
	j.after = append(j.after, fn)
	return true
}

// enter reports whether a write may still join; if so, add must follow.
func (j *joined) enter() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return false
	}
	j.running.Add(1)
	return true
}

func (j *joined) add(ch change) {
	j.mu.Lock()
	j.inner = append(j.inner, ch)
	j.mu.Unlock()
	j.running.Done()
}

// close lets no more writes join, waits for those running and returns what they changed and
// the work they left for after the write.
func (j *joined) close() ([]change, []func(context.Context) error) {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	j.running.Wait()
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.inner, j.after
}

// mergeChanges is the union of the members' changes: each table once, with the union of the
// keys its members touched (and of the records they named, when every one of them did), and
// every grant change.
func mergeChanges(changes []change) change {
	if len(changes) == 1 {
		return changes[0]
	}
	var out change
	at := map[string]int{}
	for _, ch := range changes {
		for _, t := range ch.touches {
			i, ok := at[t.Table]
			if !ok {
				at[t.Table] = len(out.touches)
				out.touches = append(out.touches, Touch{Table: t.Table, Keys: slices.Clone(t.Keys),
					Records: slices.Clone(t.Records)})
				continue
			}
			out.touches[i].Keys = union(out.touches[i].Keys, t.Keys)
			// The records are named only if every member named its own: a member that did not
			// may have changed other records under the same keys.
			if out.touches[i].Records == nil || t.Records == nil {
				out.touches[i].Records = nil
			} else {
				out.touches[i].Records = append(out.touches[i].Records, t.Records...)
			}
		}
		out.grants = append(out.grants, ch.grants...)
	}
	return out
}
