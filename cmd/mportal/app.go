package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/api/option"

	"github.com/mportal/mportal/api"
	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/banner"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/inbox"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/mongodb/embedded"
	"github.com/mportal/mportal/internal/whatsnew"
	"github.com/mportal/mportal/media"
	mobilecontract "github.com/mportal/mportal/mobile-contract"
	"github.com/mportal/mportal/push"
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

	db       *mongodb.DB
	embedded *embedded.Server
	store    *media.MinIO
	sessions *auth.Sessions
	users    *directory.Users
	devices  *directory.Devices
	inbox    *inbox.Store
	prefs    *push.PrefsStore
	banners  *banner.Service
	whatsNew *whatsnew.Service
	announce *announce.Service
	push     *push.Engine
	server   *api.Server
	listener net.Listener
	served   chan error
	workers  *workers
}

// NewMain returns a Main that logs JSON to stderr at the configured level.
func NewMain(cfg *config.Config, stdout, stderr io.Writer) *Main {
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	return &Main{Config: cfg, Logger: logger, Stdout: stdout}
}

// Addr is the address the server listens on (useful with port 0).
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Run connects every dependency, prepares the database, seeds the first admin, and starts
// serving HTTP in the background. It returns once the server accepts connections.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
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
	if err := m.services(ctx, keys); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.push = &push.Engine{
		DB:         db,
		Sender:     m.pushSender(ctx),
		Recipients: &directory.Recipients{DB: db},
		Inbox:      m.inbox,
		Metrics:    push.NewMetrics(reg),
		Logger:     m.Logger,
	}
	m.announce = &announce.Service{DB: db, Push: m.push, Members: &directory.Recipients{DB: db}, Images: m.store,
		Logger: m.Logger}
	m.startWorkers()

	m.server = api.New(api.Deps{
		Config:        cfg,
		Logger:        m.Logger,
		Registry:      reg,
		Sessions:      m.sessions,
		Directory:     m.users,
		Devices:       m.devices,
		Inbox:         m.inbox,
		Prefs:         m.prefs,
		Banners:       m.banners,
		WhatsNew:      m.whatsNew,
		Announcements: m.announce,
		JWKS:          keys.JWKS,
		OpenAPI:       mobilecontract.OpenAPI,
		Ready: map[string]api.Checker{
			"mongodb": db.Ping,
			"minio":   m.store.Ping,
		},
		Version: version,
	})
	m.listener, err = net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (MPORTAL_LISTEN_ADDR): %w", cfg.ListenAddr, err)
	}
	m.served = make(chan error, 1)
	go func() { m.served <- m.server.Serve(m.listener) }()
	m.Logger.Info("mportal started", "version", version, "addr", m.Addr(), "public_base_url", cfg.PublicBaseURL)
	return nil
}

// services builds the domain services, creates their indexes and seeds the first admin.
func (m *Main) services(ctx context.Context, keys *auth.KeySet) error {
	cfg := m.Config
	argon := auth.DefaultArgon2
	if m.Argon != nil {
		argon = *m.Argon
	}
	m.users = &directory.Users{DB: m.db, Argon: argon}
	m.sessions = &auth.Sessions{
		DB:         m.db,
		Accounts:   m.users,
		Tokens:     &auth.Tokens{Keys: keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTTL},
		Throttle:   auth.NewThrottle(auth.ThrottleConfig{}),
		RefreshTTL: cfg.RefreshTTL,
		Recheck:    cfg.SessionRecheck,
		Argon:      argon,
	}
	m.users.Sessions = m.sessions
	m.devices = &directory.Devices{DB: m.db}
	m.inbox = &inbox.Store{DB: m.db, Locale: func(ctx context.Context, userID string) (string, error) {
		u, err := m.users.Me(ctx, userID)
		if err != nil {
			return "", err
		}
		return u.Locale, nil
	}}
	m.prefs = &push.PrefsStore{DB: m.db}
	m.banners = &banner.Service{DB: m.db, Images: m.store}
	m.whatsNew = &whatsnew.Service{DB: m.db, Images: m.store, Locale: m.inbox.Locale}
	for name, ensure := range map[string]func(context.Context) error{
		"users": m.users.EnsureIndexes, "sessions": m.sessions.EnsureIndexes, "devices": m.devices.EnsureIndexes,
		"inbox": m.inbox.EnsureIndexes,
	} {
		if err := ensure(ctx); err != nil {
			return fmt.Errorf("prepare %s collections: %w", name, err)
		}
	}
	password, created, err := m.users.SeedAdmin(ctx, cfg.AdminEmployeeNo)
	if err != nil {
		return fmt.Errorf("seed admin: %w", err)
	}
	if created {
		fmt.Fprintf(m.Stdout, "\nSeeded the first admin. Sign in with\n  login:    %s\n  password: %s\n"+
			"This one-time password is shown once; you must change it at first sign-in.\n\n", cfg.AdminEmployeeNo, password)
	}
	return nil
}

// startWorkers starts the push engine and the janitor: the embedded database has no TTL indexes,
// so expired sessions and refresh tokens are deleted by a loop (on MongoDB too, for one code
// path). Close stops them before it closes the database, and the engine finishes the sends in
// flight first.
func (m *Main) startWorkers() {
	m.workers = newWorkers()
	m.workers.run(func(ctx context.Context) {
		if err := m.push.Run(ctx); err != nil {
			m.Logger.Error("push engine stopped", "error", err.Error())
		}
	})
	// Banners and what's-new cards are served from in-memory views; this picks up what other
	// instances wrote.
	m.workers.every(5*time.Second, func(ctx context.Context) {
		for name, refresh := range map[string]func(context.Context) error{
			"banners": m.banners.Refresh, "what's-new cards": m.whatsNew.Refresh,
		} {
			if err := refresh(ctx); err != nil && ctx.Err() == nil {
				m.Logger.Warn("reload "+name, "error", err.Error())
			}
		}
	})
	// Every instance runs the publisher: each scheduled announcement is published by whichever
	// wins its Claim, and the loop refreshes this instance's view of announcements.
	m.workers.every(announce.PublishInterval, func(ctx context.Context) {
		if err := m.announce.PublishDue(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("publish due announcements", "error", err.Error())
		}
	})
	m.workers.every(10*time.Minute, func(ctx context.Context) {
		n, err := m.sessions.Purge(ctx)
		if err != nil && ctx.Err() == nil {
			m.Logger.Warn("purge expired sessions", "error", err.Error())
			return
		}
		if n > 0 {
			m.Logger.Info("purged expired sessions and refresh tokens", "deleted", n)
		}
	})
}

// pushSender returns the FCM sender, or nil (push off) when the credentials are missing or
// unusable, and says once which; without push everything else works and notifications still
// reach the in-app inbox.
func (m *Main) pushSender(ctx context.Context) push.Sender {
	file := m.Config.FCMCredentialsFile
	if file == "" {
		m.Logger.Info("push notifications off: MPORTAL_FCM_CREDENTIALS_FILE is not set")
		return nil
	}
	if _, err := os.Stat(file); err != nil {
		m.Logger.Warn("push notifications off: MPORTAL_FCM_CREDENTIALS_FILE cannot be read", "file", file)
		return nil
	}
	// Run's context may end as soon as startup is done, but the sender lives until Close: it gets
	// the context's values, never its cancellation.
	sender, err := push.NewFCMSender(context.WithoutCancel(ctx), file, m.PushOptions...)
	if err != nil {
		m.Logger.Warn("push notifications off: MPORTAL_FCM_CREDENTIALS_FILE is not a usable service account key",
			"file", file, "error", err.Error())
		return nil
	}
	m.Logger.Info("push notifications on (FCM)", "file", file)
	return sender
}

// openDB connects to MPORTAL_MONGODB_URI or, when it is unset, starts the embedded FerretDB.
func (m *Main) openDB(ctx context.Context) (*mongodb.DB, error) {
	cfg := m.Config
	if cfg.MongoURI != "" {
		db, err := mongodb.Open(ctx, cfg.MongoURI, cfg.MongoDatabase, false)
		if err != nil {
			return nil, fmt.Errorf("MongoDB at %s (MPORTAL_MONGODB_URI): %w", config.MaskURI(cfg.MongoURI), err)
		}
		return db, nil
	}
	srv, err := embedded.Start(cfg.EmbeddedDBDir(), "127.0.0.1:0", m.Logger)
	if err != nil {
		return nil, err
	}
	m.embedded = srv
	// The CLI (mportal user ...) finds the running server's database through this file instead of
	// opening the same SQLite files a second time.
	if err := os.WriteFile(embeddedURIFile(cfg), []byte(srv.URI()), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", embeddedURIFile(cfg), err)
	}
	m.Logger.Info("using the embedded database (FerretDB with SQLite); set MPORTAL_MONGODB_URI for production", "dir", cfg.EmbeddedDBDir())
	return mongodb.Open(ctx, srv.URI(), cfg.MongoDatabase, true)
}

func embeddedURIFile(cfg *config.Config) string {
	return filepath.Join(cfg.EmbeddedDBDir(), "mportal-embedded.uri")
}

// Close shuts down in reverse order: stop accepting and finish in-flight requests (bounded by
// MPORTAL_SHUTDOWN_TIMEOUT), then close the database and the embedded server.
func (m *Main) Close() error {
	var errs []error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownGrace)
		if err := m.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
		// fasthttp's Shutdown only closes listeners that Serve has already registered; a Close
		// right after Run could otherwise leave Serve accepting forever.
		_ = m.listener.Close()
		if err := <-m.served; err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("http serve: %w", err))
		}
	}
	if m.workers != nil {
		m.workers.stop()
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
	return errors.Join(errs...)
}
