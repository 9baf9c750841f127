package push

import "sync"

// bodyCache keeps the device lists of the batches this engine wrote until it sends them, so that
// the usual case (the engine that fans a notification out also sends it) does not read them back:
// on the embedded FerretDB that read costs about 10 ms per batch. The database copy stays the
// truth; a batch sent by another engine, or after a restart, is read from there.
type bodyCache struct {
	mu      sync.Mutex
	byNotif map[string]map[string][]batchDevice
	devices int
}

// maxCachedDevices bounds the cache (about 100 bytes a device, the strings being shared with the
// recipient source); beyond it device lists are read from the database.
const maxCachedDevices = 200_000

func (c *bodyCache) put(notification, batch string, devices []batchDevice) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.devices+len(devices) > maxCachedDevices {
		return
	}
	if c.byNotif == nil {
		c.byNotif = make(map[string]map[string][]batchDevice)
	}
	m := c.byNotif[notification]
	if m == nil {
		m = make(map[string][]batchDevice)
		c.byNotif[notification] = m
	}
	if _, dup := m[batch]; !dup {
		m[batch] = devices
		c.devices += len(devices)
	}
}

// take returns and forgets the device list of batch; whoever sends it once needs it no more.
func (c *bodyCache) take(notification, batch string) ([]batchDevice, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	devices, ok := c.byNotif[notification][batch]
	if ok {
		delete(c.byNotif[notification], batch)
		c.devices -= len(devices)
	}
	return devices, ok
}

// forget drops what is left of a completed notification (batches another engine sent).
func (c *bodyCache) forget(notification string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, devices := range c.byNotif[notification] {
		c.devices -= len(devices)
	}
	delete(c.byNotif, notification)
}

// retain forgets the notifications for which pending is false: those another engine completed.
func (c *bodyCache) retain(pending func(notification string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, batches := range c.byNotif {
		if !pending(id) {
			for _, devices := range batches {
				c.devices -= len(devices)
			}
			delete(c.byNotif, id)
		}
	}
}

// readyQueue holds the batches this engine's fan-outs wrote that are due now, so that Run hands
// them to workers without reading push_batches: on the embedded FerretDB a scan of a hundred
// pending headers costs about 5 ms, and a fan-out of 50,000 devices writes a hundred batches.
// Run still scans on every PollInterval, which finds everything else (other engines' batches,
// retries, quiet hours, completions).
type readyQueue struct {
	mu  sync.Mutex
	ids []string
}

func (q *readyQueue) push(id string) {
	q.mu.Lock()
	q.ids = append(q.ids, id)
	q.mu.Unlock()
}

// take returns the queued batch ids and empties the queue.
func (q *readyQueue) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := q.ids
	q.ids = nil
	return ids
}
