package push

import (
	"context"
	"errors"
	"sync"
	"time"
)

// task is one unit of work for a worker.
type task struct {
	fanout bool
	id     string // notification id for a fan-out, batch id otherwise
}

func (t task) key() string {
	if t.fanout {
		return "fanout:" + t.id
	}
	return "batch:" + t.id
}

// Run works on the outbox until ctx is done: it fans out due notifications and sends due batches
// with Workers workers. When ctx ends it stops taking work, lets the sends in flight finish and
// record their results, hands unfinished fan-outs back, and returns nil.
func (e *Engine) Run(ctx context.Context) error {
	if e.DB == nil || e.Recipients == nil {
		return errors.New("push engine: DB and Recipients are required")
	}
	e.init()
	tasks := make(chan task)
	var inflight sync.Map
	// Fan-outs are long; at most half the workers take them, so that sending keeps pace.
	fanouts := make(chan struct{}, max(1, e.workers()/2))
	var wg sync.WaitGroup
	for range e.workers() {
		wg.Go(func() {
			for t := range tasks {
				worked := e.runTask(ctx, t)
				if t.fanout {
					<-fanouts
				}
				inflight.Delete(t.key())
				if worked {
					e.poke() // it may have left work: a retry, the next part, a completion
				}
			}
		})
	}
	defer func() {
		close(tasks)
		wg.Wait()
	}()
	tick := time.NewTicker(e.pollInterval())
	defer tick.Stop()
	var q taskQueue
	scan := true
	for {
		if scan {
			todo, err := e.scan(ctx)
			if err != nil && ctx.Err() == nil {
				e.log().Warn("push: scan for work", "err", err)
			}
			q.add(todo...)
		}
		q.addReady(e.ready.take())
		for t, ok := q.next(); ok; t, ok = q.next() {
			if _, busy := inflight.LoadOrStore(t.key(), true); busy {
				continue
			}
			if t.fanout {
				select {
				case fanouts <- struct{}{}:
				default: // all fan-out slots busy: the next scan offers it again
					inflight.Delete(t.key())
					continue
				}
			}
			select {
			case tasks <- t:
			case <-ctx.Done():
				return nil
			}
			q.addReady(e.ready.take())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			e.scanWanted.Store(false)
			scan = true
		case <-e.wake:
			scan = e.scanWanted.Swap(false)
		}
	}
}

// taskQueue is the work Run knows of and has not handed out yet, in order, without duplicates.
type taskQueue struct {
	tasks  []task
	queued map[string]bool
}

func (q *taskQueue) add(ts ...task) {
	if q.queued == nil {
		q.queued = make(map[string]bool)
	}
	for _, t := range ts {
		if !q.queued[t.key()] {
			q.queued[t.key()] = true
			q.tasks = append(q.tasks, t)
		}
	}
}

func (q *taskQueue) addReady(batches []string) {
	for _, id := range batches {
		q.add(task{id: id})
	}
}

func (q *taskQueue) next() (task, bool) {
	if len(q.tasks) == 0 {
		return task{}, false
	}
	t := q.tasks[0]
	q.tasks = q.tasks[1:]
	delete(q.queued, t.key())
	return t, true
}

// runTask works on t and reports whether it did, without error: false when another engine holds
// t's lease or the work failed. Only work done asks for a scan at once; a task held elsewhere,
// or failed, is offered again by the next tick's scan. (Poking after those too made three
// engines sharing a database scan it and try the same held leases in a loop: ~15,000 scans in
// an 8-minute fault-rig run.)
func (e *Engine) runTask(ctx context.Context, t task) bool {
	if ctx.Err() != nil {
		return false
	}
	var ran bool
	var err error
	if t.fanout {
		ran, err = e.fanOut(ctx, t.id)
	} else {
		ran, err = e.sendBatch(ctx, t.id)
	}
	if err != nil && ctx.Err() == nil {
		e.log().Warn("push: work failed, retrying later", "task", t.key(), "err", err)
	}
	return ran && err == nil
}
