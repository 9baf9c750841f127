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

	queue    chan serverEvent
	dropped  atomic.Int64
	started  atomic.Bool
	profiles map[string]profile // only Run's goroutine uses it
}

// profile is a cached answer of Profile: a user's dimensions change rarely, and reading them
// per event would make the embedded database the recorder's bottleneck.
type profile struct {
	dept  string
	roles []string
	at    time.Time
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
// on deviceID when the event has one. The props app, build and platform, when given, become the
// event's dimensions (a check-in's app_start counts for adoption); the prop event_id, when given,
// makes the event idempotent: one event per user and event_id (an install of a build on a
// device). It returns at once.
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
	// A write is never canceled by ctx: a shutdown that came while a batch was being written
	// lost it (the batch is cleared whatever the write's outcome). Each write has its own limit.
	flush := func(limit time.Duration) {
		if len(batch) == 0 {
			return
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
		defer cancel()
		if err := r.write(wctx, batch); err != nil && r.Logger != nil {
			r.Logger.Warn("record server analytics events", "events", len(batch), "error", err.Error())
		}
		batch = batch[:0]
	}
	for {
		select {
		case e := <-r.queue:
			batch = append(batch, e)
			if len(batch) >= MaxBatch {
				flush(writeLimit)
			}
		case <-tick.C:
			flush(writeLimit)
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
			flush(5 * time.Second)
			return
		}
	}
}

// writeLimit bounds one batch's write while the recorder runs.
const writeLimit = 30 * time.Second

func (r *Recorder) write(ctx context.Context, batch []serverEvent) error {
	s := r.Service
	s.init()
	now := s.Now.Stored()
	evs := make([]stored, 0, len(batch))
	for _, e := range batch {
		pr := r.profile(ctx, e.userID, now)
		dept, roles := pr.dept, pr.roles
		user := s.pseudonym("u", e.userID)
		st := stored{ID: user + ":" + serverIDPrefix + randomID(), P: user, Name: e.name, At: e.at, Platform: "server",
			Dept: dept, Roles: roles, Received: now}
		if id := e.props["event_id"]; id != "" && len(id) <= maxIDLen && tokenPattern.MatchString(id) {
			st.ID = user + ":" + serverIDPrefix + id // a deterministic id: the event counts once however often it is recorded
		}
		liftDimensions(&st, e.props)
		st.App = s.catalogApp(ctx, st.App)
		if e.deviceID != "" {
			st.D = s.pseudonym("d", e.userID+"/"+e.deviceID)
		}
		evs = append(evs, st)
	}
	_, err := s.store(ctx, evs)
	return err
}

func (r *Recorder) profile(ctx context.Context, userID string, now time.Time) profile {
	if r.profiles == nil {
		r.profiles = map[string]profile{}
	}
	if p, ok := r.profiles[userID]; ok && now.Sub(p.at) < 10*time.Minute {
		return p
	}
	if len(r.profiles) > 100_000 {
		clear(r.profiles)
	}
	p := profile{at: now}
	if r.Profile != nil {
		if d, rs, err := r.Profile(ctx, userID); err == nil {
			p.dept, p.roles = d, rs
		}
	}
	r.profiles[userID] = p
	return p
}

// liftDimensions moves the props app, build and platform (a check-in's) into the event's
// dimensions and keeps the other props.
func liftDimensions(st *stored, props map[string]string) {
	for k, v := range props {
		switch {
		case k == "app" && v != "" && len(v) <= 64 && tokenPattern.MatchString(v):
			st.App = v
		case k == "build" && v != "" && len(v) <= 64 && tokenPattern.MatchString(v):
			st.Build = v
		case k == "platform" && platforms[v]:
			st.Platform = v
		case k == "app" || k == "build" || k == "platform" || k == "event_id":
		default:
			if st.Props == nil {
				st.Props = map[string]string{}
			}
			st.Props[k] = v
		}
	}
	if st.App != "" && st.Build == "" {
		st.Build = "unknown"
	}
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
