package mongodb

import (
	"context"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
)

// writeGate lets one write command of this client at a time reach the embedded database.
//
// SQLite has one writer. FerretDB runs each write in a transaction on a connection of its pool,
// and a transaction that finds another one writing waits in SQLite's busy handler, which sleeps
// 1, 2, 5, 10, 15, 20, 25... ms between tries: at 16 concurrent one-record pushes most of a push's
// time went to those sleeps while the CPU idled. Queued here instead, the next write starts as
// soon as the previous one answers. The gate is an optimization, never what makes a write
// correct: a write that waited longer than gateWait goes on without it (SQLite still serializes
// it), so a lost release (a driver bug) would slow writes down, never stop them.
//
// It hooks the driver's command monitor, whose Started and Succeeded or Failed events the driver
// publishes around every command's round trip, in the goroutine that runs it.
type writeGate struct {
	sem     chan struct{}
	wait    time.Duration // gateWait; tests that must never see the gate bypassed lengthen it
	mu      sync.Mutex
	holders map[gateKey]bool
}

// gateWait is the longest a write waits for the gate. A write takes about a millisecond; the
// client has at most 32 connections, so a wait this long means something went wrong.
const gateWait = 2 * time.Second

type gateKey struct {
	conn string
	req  int64
}

// writeCommands are the commands that make FerretDB write to SQLite.
var writeCommands = map[string]bool{
	"insert": true, "update": true, "delete": true, "findAndModify": true,
}

func newWriteGate() *writeGate {
	return &writeGate{sem: make(chan struct{}, 1), wait: gateWait, holders: map[gateKey]bool{}}
}

// monitor is the command monitor that runs the gate.
func (g *writeGate) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if writeCommands[e.CommandName] {
				g.enter(gateKey{e.ConnectionID, e.RequestID})
			}
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			g.leave(gateKey{e.ConnectionID, e.RequestID})
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			g.leave(gateKey{e.ConnectionID, e.RequestID})
		},
	}
}

func (g *writeGate) enter(k gateKey) {
	select {
	case g.sem <- struct{}{}:
		g.hold(k)
		return
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.sem <- struct{}{}:
	case <-t.C:
		return // go on without the gate
	}
	g.hold(k)
}

func (g *writeGate) hold(k gateKey) {
	g.mu.Lock()
	g.holders[k] = true
	g.mu.Unlock()
}

func (g *writeGate) leave(k gateKey) {
	g.mu.Lock()
	held := g.holders[k]
	delete(g.holders, k)
	g.mu.Unlock()
	if held {
		<-g.sem
	}
}
