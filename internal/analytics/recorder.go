package analytics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync/atomic"
	"time"
)

// Recorder records the events the server sees itself (sign-ins, check-ins, update checks,
// announcement reads, feedback, decisions, training views). Services declare the same one-method
// interface where they use it. Record never blocks and never fails the caller's request: events
// queue in memory and are written in batches; when the queue is full they are dropped and counted.
type Recorder struct {
	Service *Service
	// Profile gives a user's department and roles, the dimensions of their events.
	Profile func(ctx context.Context, userID string) (department string, roles []string, err error)
	Logger  *slog.Logger
	// Queue is how many events may wait; 0 = 10,000.
	Queue int

	queue   chan serverEvent
	dropped atomic.Int64
	started atomic.Bool
}

type serverEvent struct {
	userID, deviceID, name string
	props                  map[string]string
	at                     time.Time
}

func (r *Recorder) ch() chan serverEvent {
	if r.started.CompareAndSwap(false, true) {
		n := r.Queue
		if n == 0 {
			n = 10_000
		}
		r.queue = make(chan serverEvent, n)
	}
	return r.queue
}

// NewRecorder returns a Recorder with its queue made, ready for Record and Run.
func NewRecorder(s *Service, profile func(ctx context.Context, userID string) (string, []string, error), log *slog.Logger) *Recorder {
	r := &Recorder{Service: s, Profile: profile, Logger: log}
	r.ch()
	return r
}

// Record queues a server event by name ("sign_in", "app_start", "update_check", ...) for userID,
// on deviceID when the event has one. It returns at once.
func (r *Recorder) Record(userID, deviceID, name string, props map[string]string) {
	if r == nil || userID == "" {
		return
	}
	select {
	case r.queue <- serverEvent{userID: userID, deviceID: deviceID, name: name, props: props, at: r.Service.Now.Stored()}:
	default:
		r.dropped.Add(1)
	}
}

// Dropped is how many events were dropped because the queue was full.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Run writes the queued events in batches of up to MaxBatch, at least once a second, until ctx
// ends; then it writes what is queued, within a few seconds.
func (r *Recorder) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var batch []serverEvent
	flush := func(ctx context.Context) {
		if len(batch) == 0 {
			return
		}
		if err := r.write(ctx, batch); err != nil && r.Logger != nil {
			r.Logger.Warn("record server analytics events", "events", len(batch), "error", err.Error())
		}
		batch = batch[:0]
	}
	for {
		select {
		case e := <-r.queue:
			batch = append(batch, e)
			if len(batch) >= MaxBatch {
				flush(ctx)
			}
		case <-tick.C:
			flush(ctx)
		case <-ctx.Done():
		drain:
			for {
				select {
				case e := <-r.queue:
					batch = append(batch, e)
				default:
					break drain
				}
			}
			drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			flush(drain)
			cancel()
			return
		}
	}
}

func (r *Recorder) write(ctx context.Context, batch []serverEvent) error {
	s := r.Service
	s.init()
	now := s.Now.Stored()
	evs := make([]stored, 0, len(batch))
	for _, e := range batch {
		var dept string
		var roles []string
		if r.Profile != nil {
			d, rs, err := r.Profile(ctx, e.userID)
			if err == nil {
				dept, roles = d, rs
			}
		}
		user := s.pseudonym("u", e.userID)
		st := stored{ID: user + ":srv." + randomID(), P: user, Name: e.name, At: e.at, Platform: "server",
			Dept: dept, Roles: roles, Props: e.props, Received: now}
		if e.deviceID != "" {
			st.D = s.pseudonym("d", e.userID+"/"+e.deviceID)
		}
		evs = append(evs, st)
	}
	_, err := s.store(ctx, evs)
	return err
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
