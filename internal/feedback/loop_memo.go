package feedback

import (
	"sync"
	"time"
)

// loopMemoTTL is how long a computed set of loop numbers is served again when this process
// wrote no feedback, comment or "me too" since: the longest it can miss another instance's
// writes, and how far its backlog ages can lag the clock.
const loopMemoTTL = 15 * time.Second

// loopMemo remembers the last loop numbers per range. Without the in-memory copy (MongoDB, or
// FerretDB reached by URI) a computation reads the feedback collection, which on FerretDB means
// decoding every document: seconds at 10,000 users' feedback. The dashboard and the metrics
// endpoint ask for the same range over and over, so an answer is reused while it is younger
// than loopMemoTTL (service clock) and no write of this process happened since it was computed.
type loopMemo struct {
	mu      sync.Mutex
	entries map[[2]string]loopMemoEntry
}

type loopMemoEntry struct {
	writes uint64
	at     time.Time
	stats  LoopStats
}

// loopWrites counts this process's writes that can change loop numbers: every feedback document
// write (feedbackCache.put/add/purge, called whether the copy is on or not), every comment or
// "me too" and every reload of their counts (counts).
func (s *Service) loopWrites() uint64 { return s.cache.writes.Load() + s.counts.writes.Load() }

// get returns a copy of the remembered numbers of [from, to] if they are still good at now.
func (m *loopMemo) get(from, to string, writes uint64, now time.Time) (*LoopStats, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[[2]string{from, to}]
	if !ok || e.writes != writes || now.Before(e.at) || now.Sub(e.at) >= loopMemoTTL {
		return nil, false
	}
	return e.stats.clone(), true
}

// put remembers stats, computed at now after writes had been counted. At most a few ranges are
// kept (the dashboard's and whatever ops last asked for).
func (m *loopMemo) put(from, to string, writes uint64, now time.Time, stats *LoopStats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil || len(m.entries) >= 8 {
		m.entries = map[[2]string]loopMemoEntry{}
	}
	m.entries[[2]string{from, to}] = loopMemoEntry{writes: writes, at: now, stats: *stats.clone()}
}

// clone copies s with its own slices, so callers may change what they get.
func (s *LoopStats) clone() *LoopStats {
	out := *s
	out.Backlog = append([]AgeBucket{}, s.Backlog...)
	out.TopMeToo = append([]MeTooItem{}, s.TopMeToo...)
	return &out
}
