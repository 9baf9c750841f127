// Package embedded runs FerretDB v1 with its SQLite backend inside the mportal process, so that
// `make run` and the tests need no MongoDB server. Production sets MPORTAL_MONGODB_URI instead.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is a running embedded FerretDB.
type Server struct {
	dir    string
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs FerretDB on listenAddr (a loopback host:port; port 0 picks a free one), storing one
// SQLite file per database under dir. Stop it with Stop.
func Start(dir, listenAddr string, logger *slog.Logger) (*Server, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded db dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create embedded db dir: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return start(abs, logger, &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: listenAddr},
		Handler:  "sqlite",
		// WAL with synchronous=NORMAL: a commit is atomic and survives a crash of the process;
		// only a power loss may undo the last commits, as MongoDB's default write concern
		// (journal flushed every 100 ms) may. FULL, the default, fsyncs every transaction, and
		// FerretDB v1.24 runs every updated document in a transaction of its own: edits pushed
		// by sync ran 25% slower (see internal/feedback/README.md, Performance).
		SQLiteURL: "file:" + abs + "/?_pragma=synchronous(normal)",
	})
}

// maxSocketPath is the longest Unix socket path every platform accepts (sun_path is 104 bytes
// on macOS and the BSDs, 108 on Linux, NUL included).
const maxSocketPath = 100

// StartLocal runs FerretDB as Start does, listening on a Unix socket in dir (mode 0700), so that
// only this user reaches it: FerretDB has no authentication, and on a loopback port any local
// user or a sidecar sharing the network namespace could read or change everything. A dir whose
// path is too long for a socket falls back to a loopback port (and says so).
func StartLocal(dir string, logger *slog.Logger) (*Server, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded db dir: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	sock := filepath.Join(abs, "ferretdb.sock")
	if len(sock) > maxSocketPath {
		logger.Warn("embedded database: the data directory's path is too long for a Unix socket; listening on a loopback port, which other local users can reach",
			"dir", abs)
		return Start(dir, "127.0.0.1:0", logger)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create embedded db dir: %w", err)
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return nil, fmt.Errorf("embedded db dir: %w", err)
	}
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) { // left by a process that died
		return nil, fmt.Errorf("remove the old embedded db socket: %w", err)
	}
	return start(abs, logger, &ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: sock},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/?_pragma=synchronous(normal)", // as Start
	})
}

// StartPostgreSQL runs FerretDB in the process as Start does, but with its PostgreSQL backend,
// storing the data in the PostgreSQL database at pgURL. It exists to measure that backend
// against SQLite (sync/README.md, "SQLite or PostgreSQL"); mportal's embedded database is
// SQLite.
func StartPostgreSQL(pgURL, listenAddr string, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	return start("", logger, &ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: listenAddr},
		Handler:       "postgresql",
		PostgreSQLURL: pgURL,
	})
}

// start runs FerretDB with cfg; dir is the SQLite directory ("" for PostgreSQL).
func start(dir string, logger *slog.Logger, cfg *ferretdb.Config) (*Server, error) {
	// FerretDB logs every connection at info and dumps wire messages at warn (for example the
	// driver's endSessions, which it does not implement); keep only its errors.
	cfg.Logger = slog.New(levelFilter{Handler: logger.Handler(), min: slog.LevelError})
	f, err := ferretdb.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded FerretDB: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{dir: dir, uri: f.MongoDBURI(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = f.Run(ctx)
	}()
	return s, nil
}

// URI is the mongodb:// URI clients connect to.
func (s *Server) URI() string { return s.uri }

// EnsureIDIndexes adds the _id expression index to the collections of database that lack it;
// see the function EnsureIDIndexes.
func (s *Server) EnsureIDIndexes(ctx context.Context, database string) error {
	if s.dir == "" {
		return nil // PostgreSQL: FerretDB's own _id index serves its lookups
	}
	return EnsureIDIndexes(ctx, s.dir, database)
}

// Stop shuts FerretDB down and waits (bounded) for it to close its SQLite files.
func (s *Server) Stop() {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

// levelFilter passes on FerretDB's records at min and above. FerretDB derives a logger with
// the statement's attributes for every SQL statement it runs (fsql), for debug logging; a
// handler such as slog's JSONHandler formats those attributes when it is derived, which cost
// 3-6% of the CPU of pushed writes for records that were then all dropped. So the derivations
// are only recorded here, and applied to the handler for the rare record that passes.
type levelFilter struct {
	slog.Handler
	min slog.Level
	// derive are the WithAttrs and WithGroup calls made on this filter, in order.
	derive []func(slog.Handler) slog.Handler
}

func (h levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFilter) Handle(ctx context.Context, r slog.Record) error {
	inner := h.Handler
	for _, d := range h.derive {
		inner = d(inner)
	}
	return inner.Handle(ctx, r)
}

func (h levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return h.then(func(inner slog.Handler) slog.Handler { return inner.WithAttrs(a) })
}

func (h levelFilter) WithGroup(name string) slog.Handler {
	return h.then(func(inner slog.Handler) slog.Handler { return inner.WithGroup(name) })
}

func (h levelFilter) then(d func(slog.Handler) slog.Handler) levelFilter {
	return levelFilter{Handler: h.Handler, min: h.min, derive: append(slices.Clip(h.derive), d)}
}
