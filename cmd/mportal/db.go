package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/mongodb/embedded"
)

// openDB connects to MPORTAL_MONGODB_URI or, when it is unset, starts the embedded FerretDB.
func (m *Main) openDB(ctx context.Context) (*mongodb.DB, error) {
	cfg := m.Config
	if cfg.MongoURI != "" {
		db, err := mongodb.OpenWith(ctx, cfg.MongoURI, cfg.MongoDatabase, false, m.dbOptions())
		if err != nil {
			return nil, fmt.Errorf("MongoDB at %s (MPORTAL_MONGODB_URI): %w", config.MaskURI(cfg.MongoURI), err)
		}
		return db, nil
	}
	start := func() (*embedded.Server, error) { return embedded.StartLocal(cfg.EmbeddedDBDir(), m.Logger) }
	if m.embeddedPostgreSQL != "" {
		start = func() (*embedded.Server, error) {
			if err := os.MkdirAll(cfg.EmbeddedDBDir(), 0o700); err != nil { // for the URI file
				return nil, err
			}
			return embedded.StartPostgreSQL(m.embeddedPostgreSQL, "127.0.0.1:0", m.Logger)
		}
	}
	srv, err := start()
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
	return mongodb.OpenWith(ctx, srv.URI(), cfg.MongoDatabase, true, m.dbOptions())
}

// dbOptions are the database settings beyond the URI: the slow-command log
// (MPORTAL_DB_SLOW_COMMAND).
func (m *Main) dbOptions() mongodb.Options {
	return mongodb.Options{SlowCommand: m.Config.DBSlowCommand, Logger: m.Logger}
}

func embeddedURIFile(cfg *config.Config) string {
	return filepath.Join(cfg.EmbeddedDBDir(), "mportal-embedded.uri")
}
