package mongodb

import "sync"

// keyedMutex holds one mutex per key for as long as someone holds or waits for it. Keys never
// share a mutex: a caller holding one key may take another (a user's lock, then each of their
// sessions' locks) without deadlocking against itself, which a fixed set of mutexes picked by
// key hash did whenever the two keys' hashes collided (1 in 256, seen as a hung admin test).
type keyedMutex struct {
	mu   sync.Mutex
	held map[string]*keyLock
}

// keyLock is one key's mutex and how many callers hold or wait for it.
type keyLock struct {
	mu    sync.Mutex
	users int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.held == nil {
		k.held = map[string]*keyLock{}
	}
	l := k.held[key]
	if l == nil {
		l = &keyLock{}
		k.held[key] = l
	}
	l.users++
	k.mu.Unlock()

	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.held, key)
		}
		k.mu.Unlock()
	}
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
