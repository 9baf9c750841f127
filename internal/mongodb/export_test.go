package mongodb

// GateHeld reports how many writes hold d's write gate, or wait to leave it (0 without a gate).
func GateHeld(d *DB) int {
	if d.gate == nil {
		return 0
	}
	d.gate.mu.Lock()
	defer d.gate.mu.Unlock()
	return len(d.gate.sem) + len(d.gate.holders)
}
