package push

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
)

// Engine is the durable push outbox: Enqueue records a notification, and Run fans it out to the
// audience's inbox and devices and sends the pushes, surviving restarts and sharing the work with
// other engines on the same database. Every device gets a notification at most once.
//
// DB and Recipients are required. A nil Sender means push is off: inbox items are still written
// and no device is contacted. A nil Inbox skips the inbox.
type Engine struct {
	DB         *mongodb.DB
	Sender     Sender
	Recipients RecipientSource
	Inbox      InboxWriter
	// Now is the clock; nil means time.Now.
	Now     clock.Func
	Logger  *slog.Logger
	Metrics *Metrics
	// LeaseTTL is how long a worker holds a fan-out or batch without renewing; a crashed
	// engine's work is taken over after it. Default 30s.
	LeaseTTL time.Duration
	// Workers is the number of fan-outs and batches worked on at once. Default 4.
	Workers int
	// PollInterval is how often Run looks for work that another engine queued or whose time
	// came. Default 1s.
	PollInterval time.Duration
	// MaxAttempts bounds the sends of one message before it is dead-lettered. Default 8.
	MaxAttempts int
	// BackoffBase and BackoffCap shape the retry delay: full jitter over base·2^retry, capped.
	// Defaults 1s and 5m.
	BackoffBase, BackoffCap time.Duration
	// Retention is how long a finished notification's records (its deduplicating key, its
	// collapse record, its dead letters) are kept; see Purge. Default 90 days, at least 7.
	Retention time.Duration
	// VerifyAfter is the age after which a batch's tokens are checked against the directory
	// before sending (see TokenOwners). Default 1m.
	VerifyAfter time.Duration
	// ClaimsGrace is how long a finished notification's per-device claims (and batch device
	// lists) are kept before they are dropped; see complete. Default 15m.
	ClaimsGrace time.Duration

	initOnce sync.Once
	holder   string
	wake     chan struct{}
	cache    notificationCache
	bodies   bodyCache
	ready    readyQueue
	// scanWanted asks Run for a scan at its next wake-up (poke); a nudge alone only hands out
	// the ready queue.
	scanWanted atomic.Bool
	scans      atomic.Int64 // scans started, for tests
	dropsAt    atomic.Int64 // when the scan last looked for claims to drop (Unix ms)
	// claimsInserted, when set (tests), sees each claim insert's error and may replace it: an
	// error after an applied insert stands for an answer lost on the way back.
	claimsInserted func(error) error
}

// Collections owned by the engine. push_active and push_batches hold only pending work and stay
// small, because the scanner reads them whole; everything else is read by _id.
const (
	notificationsColl = "push_notifications" // every notification, by key
	activeColl        = "push_active"        // notifications not yet done: fan-out state and cursor
	batchesColl       = "push_batches"       // pending send batches: small headers the scanner reads
	batchDevicesColl  = "push_batch_devices" // prefix of each notification's batch device lists
	leasesColl        = "push_leases"        // "<thing>:<epoch>" leases
	deadColl          = "push_dead"          // messages that could not be delivered
	prefsColl         = "push_prefs"         // per-user preferences
	dropsColl         = "push_drops"         // finished notifications whose claims are dropped after ClaimsGrace
)

func (e *Engine) init() {
	e.initOnce.Do(func() {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		e.holder = hex.EncodeToString(b)
		e.wake = make(chan struct{}, 1)
	})
}

func (e *Engine) coll(name string) *mongo.Collection { return e.DB.Collection(name) }

func (e *Engine) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (e *Engine) leaseTTL() time.Duration              { return orDefault(e.LeaseTTL, 30*time.Second) }
func (e *Engine) workers() int                         { return orDefault(e.Workers, 4) }
func (e *Engine) pollInterval() time.Duration          { return orDefault(e.PollInterval, time.Second) }
func (e *Engine) maxAttempts() int                     { return orDefault(e.MaxAttempts, 8) }
func (e *Engine) verifyAfter() time.Duration           { return orDefault(e.VerifyAfter, time.Minute) }
func (e *Engine) backoffBase() time.Duration           { return orDefault(e.BackoffBase, time.Second) }
func (e *Engine) backoffCap() time.Duration            { return orDefault(e.BackoffCap, 5*time.Minute) }
func (e *Engine) pushOn() bool                         { return e.Sender != nil }
func (e *Engine) sentColl(id string) *mongo.Collection { return e.coll(sentCollName(id)) }

// poke makes a running scanner look for work now rather than at its next tick.
func (e *Engine) poke() {
	e.init()
	e.scanWanted.Store(true)
	e.nudge()
}

// nudge makes Run hand out the batches in the ready queue now; unlike poke, it asks for no scan.
func (e *Engine) nudge() {
	e.init()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}
