package mongodb

import "runtime"

// GateHeld reports how many writes hold d's write gate, or wait to leave it (0 without a gate).
func GateHeld(d *DB) int {
	if d.gate == nil {
		return 0
	}
	d.gate.mu.Lock()
	defer d.gate.mu.Unlock()
	return len(d.gate.sem) + len(d.gate.holders)
}

// HoldInserts makes the InsertMany calls on coll queue as if a command were in flight, until the
// returned function sends what queued (as the end of that command would).
func HoldInserts(d *DB, coll string) (release func()) {
	b := d.insertBatcher(coll)
	// A caller's InsertMany returns when its command answers, a moment before the goroutine
	// that sent it marks the batcher idle: wait for that, or it would clear the hold.
	for {
		b.mu.Lock()
		idle := !b.running
		if idle {
			b.running = true
		}
		b.mu.Unlock()
		if idle {
			break
		}
		runtime.Gosched()
	}
	return func() {
		b.mu.Lock()
		batch := b.takeLocked()
		b.mu.Unlock()
		b.run(batch)
	}
}

// QueuedInserts is how many InsertMany calls on coll wait for the next command.
func QueuedInserts(d *DB, coll string) int {
	b := d.insertBatcher(coll)
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// InsertCommands is how many insert commands DB.InsertMany sent for coll.
func InsertCommands(d *DB, coll string) int64 { return d.insertBatcher(coll).sent.Load() }
