package mongodb

import (
	"hash/fnv"
	"sync"
)

// keyedMutex is a fixed set of mutexes picked by key hash: bounded memory, no cleanup, and two
// keys rarely share a stripe.
type keyedMutex struct {
	stripes [256]sync.Mutex
}

func (k *keyedMutex) lock(key string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	m := &k.stripes[h.Sum32()%uint32(len(k.stripes))]
	m.Lock()
	return m.Unlock
}

// Lock serializes the few read-modify-writes that cannot be a single atomic update or a Claim.
// On MongoDB those call sites are already atomic ($set with a filter on the previous value), so
// Lock is a no-op there and safe across replicas. On FerretDB, whose updates are not atomic, it
// serializes the writers of one key inside this process; the embedded database is only ever served
// by one mportal process, so that is enough (a FerretDB shared by several processes, as in the
// tests, must give each process its own database).
func (d *DB) Lock(key string) (unlock func()) {
	if !d.FerretDB {
		return func() {}
	}
	return d.locks.lock(key)
}
