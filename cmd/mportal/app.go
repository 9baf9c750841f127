package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/api/option"

	"github.com/mportal/mportal/api"
	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/audit"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/banner"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/feedback"
	"github.com/mportal/mportal/internal/inbox"
	"github.com/mportal/mportal/internal/logbuf"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/mongodb/embedded"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/updates"
	"github.com/mportal/mportal/internal/training"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/internal/whatsnew"
	"github.com/mportal/mportal/media"
	mobilecontract "github.com/mportal/mportal/mobile-contract"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

// Main is the whole running program: all wiring happens here (config -> clients -> services ->
// api), and nowhere else. Run starts it; Close stops it in reverse order.
type Main struct {
	Config *config.Config
	Logger *slog.Logger
	Stdout io.Writer // the seeded admin's one-time password is printed here, never logged

	// Argon overrides the password hashing cost (tests use a cheap one).
	Argon *auth.Argon2Params
	// PushOptions are appended to the FCM client's options when push is on; tests point the
	// sender at a fake FCM server with them.
	PushOptions []option.ClientOption
	// Clock is the one time source of every service; nil means the wall clock. Tests set a
	// testenv.Clock's Now here.
	Clock clock.Func

	// embeddedPostgreSQL, set by a benchmark, runs the embedded FerretDB on this PostgreSQL
	// database instead of SQLite files (sync/README.md, "SQLite or PostgreSQL").
	embeddedPostgreSQL string

	db       *mongodb.DB
	embedded *embedded.Server
	store    *media.MinIO
	sessions *auth.Sessions
	users    *directory.Users
	devices  *directory.Devices
	inbox    *inbox.Store
	sync     *datasync.Engine
	prefs    *push.PrefsStore
	banners  *banner.Service
	whatsNew *whatsnew.Service
	announce *announce.Service
	releases *release.Service
	updates  *updates.Service
	uploads  *upload.Service
	feedback *feedback.Service
	training *training.Service
	// trainingNotices pushes required training to its audience and reminds it of due dates.
	trainingNotices *training.Notices

	// approvals is the OA integration; the callbacks, statistics and reminders its operations.
	approvals         *approval.Service
	audit             *audit.Log
	approvalCallbacks *approval.Callbacks
	approvalStats     *approval.Statistics
	analytics         *analytics.Service
	usage             *analytics.Recorder
	approvalReminders *approval.Reminders
	push              *push.Engine
	server            *api.Server
	logOut            *logbuf.Writer // buffers Logger's lines when stderr is a file or pipe
	listener          net.Listener
	served            chan error
	stopped           chan struct{} // closed when Serve returns, for whatever reason
	closeOnce         sync.Once     // Close runs once; later calls return its result
	closeErr          error
	metrics           *metricsServer
	pprof             *metricsServer // MPORTAL_PPROF_ADDR's listener; nil when unset
	workers           *workers
}

// NewMain returns a Main that logs JSON to stderr at the configured level. When stderr is a
// file or a pipe (a terminal, a container runtime, journald), lines go through a logbuf.Writer:
// a request's access-log line is then a copy into memory, written out with the others every
// 100 ms, not a system call of its own (see internal/logbuf: nothing is dropped, error lines
// are flushed at once, Close writes the rest). Other writers (the tests' buffers) are written
// directly, so a test reads a line as soon as it is logged.
func NewMain(cfg *config.Config, stdout, stderr io.Writer) *Main {
	m := &Main{Config: cfg, Stdout: stdout}
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if f, ok := stderr.(*os.File); ok {
		m.logOut = logbuf.New(f)
		m.Logger = slog.New(logbuf.Handler(slog.NewJSONHandler(m.logOut, opts), m.logOut))
	} else {
		m.Logger = slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return m
}

// accessLog is where the API writes its access log lines itself: the buffered writer, when
// there is one and the level lets info lines through; nil leaves them to Logger.
func (m *Main) accessLog() io.Writer {
	if m.logOut == nil || m.Config.LogLevel > slog.LevelInfo {
		return nil
	}
	return m.logOut
}

// Addr is the address the server listens on (useful with port 0).
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Run connects every dependency, prepares the database, seeds the first admin, and starts
// serving HTTP in the background. It returns once the server accepts connections.
//
// It reads top to bottom: listeners, clients, services (each built complete, after the services
// it uses), start-up steps, the API, the background workers, and finally serving. The listen
// addresses are taken first, so that a busy port fails start-up at once with an error naming the
// variable to change, before any dependency is touched.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	var err error
	if m.listener, err = listen(cfg.ListenAddr, "MPORTAL_LISTEN_ADDR"); err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		ln, err := listen(cfg.MetricsAddr, "MPORTAL_METRICS_ADDR")
		if err != nil {
			return err
		}
		m.metrics = &metricsServer{listener: ln}
	}
	if cfg.PprofAddr != "" {
		ln, err := listen(cfg.PprofAddr, "MPORTAL_PPROF_ADDR")
		if err != nil {
			return err
		}
		m.pprof = &metricsServer{listener: ln}
	}

	// Clients.
	db, err := m.openDB(ctx)
	if err != nil {
		return err
	}
	m.db = db
	m.store, err = media.NewMinIO(ctx, media.MinIOConfig{
		Endpoint: cfg.MinIOEndpoint, AccessKey: cfg.MinIOAccessKey, SecretKey: cfg.MinIOSecretKey,
		UseTLS: cfg.MinIOUseTLS, Region: cfg.MinIORegion, BucketPrefix: cfg.MinIOBucketPrefix,
		PublicEndpoint: cfg.MinIOPublicEndpoint,
	})
	if err != nil {
		return fmt.Errorf("object storage: %w", err)
	}
	if err := m.store.EnsureBuckets(ctx); err != nil {
		return fmt.Errorf("object storage at %s (MPORTAL_MINIO_ENDPOINT): %w", cfg.MinIOEndpoint, err)
	}
	keys, err := auth.LoadKeys(cfg.JWTKeyFiles, cfg.DefaultJWTKeyFile())
	if err != nil {
		return fmt.Errorf("JWT keys (MPORTAL_JWT_KEY_FILES): %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sender, err := m.pushSender(ctx)
	if err != nil {
		return err
	}

	// Services, then the start-up steps that prepare their collections.
	if err := m.services(keys, reg, sender); err != nil {
		return err
	}
	if err := m.prepare(ctx); err != nil {
		return err
	}

	m.server = api.New(api.Deps{
		Config:        cfg,
		Logger:        m.Logger,
		AccessLog:     m.accessLog(),
		Registry:      reg,
		Sessions:      m.sessions,
		Directory:     m.users,
		Devices:       m.devices,
		Inbox:         m.inbox,
		Prefs:         m.prefs,
		Banners:       m.banners,
		WhatsNew:      m.whatsNew,
		Announcements: m.announce,
		Feedback:      m.feedback,
		Sync:          m.sync,
		Releases:      m.releases,
		Updates:       m.updates,
		Uploads:       m.uploads,
		Training:      m.training,
		Approvals:     m.approvals,
		Analytics:     m.analytics,
		Audit:         m.audit,
		Now:           m.Clock,
		JWKS:          keys.JWKS,
		OpenAPI:       mobilecontract.OpenAPI,
		Ready: map[string]api.Checker{
			"mongodb": db.Ping,
			"minio":   m.store.Ping,
		},
		Version: version,

		ApprovalCallbacks: m.approvalCallbacks,
		ApprovalStats:     m.approvalStats,
		ApprovalReminders: m.approvalReminders,
	})
	m.startWorkers()
	m.startTrainingWorkers()

	m.served, m.stopped = make(chan error, 1), make(chan struct{})
	go func() {
		err := m.server.Serve(m.listener)
		close(m.stopped)
		m.served <- err
	}()
	metricsAddr := "(off: MPORTAL_METRICS_ADDR unset)"
	if m.metrics != nil {
		m.metrics.start(m.server.MetricsHandler())
		metricsAddr = m.MetricsAddr()
	}
	if m.pprof != nil {
		m.pprof.start(pprofHandler())
		m.Logger.Info("serving profiles", "pprof_addr", m.pprof.listener.Addr().String())
	}
	m.Logger.Info("mportal started", "version", version, "addr", m.Addr(), "metrics_addr", metricsAddr,
		"public_base_url", cfg.PublicBaseURL)
	for _, w := range cfg.Warnings() {
		m.Logger.Warn("config: " + w)
	}
	return nil
}

// Stopped is closed when the HTTP server stops serving: after Close, or on its own (an accept
// error it does not retry, such as running out of file descriptors), when the process must
// exit rather than run on without a listener. Nil before Run.
func (m *Main) Stopped() <-chan struct{} { return m.stopped }

// MetricsAddr is the address the metrics listener is bound to, or "" when metrics are off.
func (m *Main) MetricsAddr() string {
	if m.metrics == nil {
		return ""
	}
	return m.metrics.listener.Addr().String()
}

// PprofAddr is the address the profiling listener is bound to, or "" when it is off.
func (m *Main) PprofAddr() string {
	if m.pprof == nil {
		return ""
	}
	return m.pprof.listener.Addr().String()
}

// listen binds addr, or says which variable to change.
func listen(addr, variable string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w (is another process using it? set %s to a free host:port)",
			addr, err, variable)
	}
	return ln, nil
}

// Close shuts down in reverse order: stop accepting and finish in-flight requests (bounded by
// MPORTAL_SHUTDOWN_TIMEOUT), then close the database and the embedded server.
//
// Close is safe after a Run that failed at any step: it stops only what was started. Calling it
// again returns the first call's result.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	var errs []error
	if m.served != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownGrace)
		if err := m.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
	}
	if m.listener != nil {
		// fasthttp's Shutdown only closes listeners that Serve has already registered; a Close
		// right after Run could otherwise leave Serve accepting forever. A Run that failed
		// before serving leaves a bound listener that only this closes.
		_ = m.listener.Close()
	}
	if m.served != nil {
		if err := <-m.served; err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("http serve: %w", err))
		}
	}
	if m.metrics != nil {
		if err := m.metrics.stop(); err != nil {
			errs = append(errs, fmt.Errorf("metrics server: %w", err))
		}
	}
	if m.pprof != nil {
		if err := m.pprof.stop(); err != nil {
			errs = append(errs, fmt.Errorf("pprof server: %w", err))
		}
	}
	if m.workers != nil {
		m.workers.stop()
	}
	if m.sync != nil && m.db != nil {
		// Nothing writes any more: the next start on the embedded database needs no recovery.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := m.sync.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	if m.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := m.db.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close database: %w", err))
		}
		cancel()
	}
	if m.embedded != nil {
		_ = os.Remove(embeddedURIFile(m.Config))
		m.embedded.Stop()
	}
	m.Logger.Info("mportal stopped")
	if m.logOut != nil {
		_ = m.logOut.Flush() // not Close: a Main closed twice still logs, straight through
	}
	return errors.Join(errs...)
}
