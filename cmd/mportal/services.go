package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/banner"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/feedback"
	"github.com/mportal/mportal/internal/inbox"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/updatecheck"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/internal/whatsnew"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

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
		// Bounded argon2 work: a burst of logins queues, then answers 503 with Retry-After.
		HashConcurrency: cfg.LoginConcurrency,
		HashQueue:       loginQueue(cfg.LoginQueue),
	}
	m.users.Sessions = m.sessions
	m.devices = &directory.Devices{DB: m.db}
	if m.db.Embedded {
		// Push fan-outs stream audiences from memory: the embedded database reads a whole
		// collection per query. Users and Devices keep the view current with their writes.
		m.users.View = &directory.RecipientView{DB: m.db}
		m.devices.View = m.users.View
	}
	m.inbox = &inbox.Store{DB: m.db, Locale: func(ctx context.Context, userID string) (string, error) {
		u, err := m.users.Me(ctx, userID)
		if err != nil {
			return "", err
		}
		return u.Locale, nil
	}}
	// Offline sync: synced tables register here (announcements in Run, once the service
	// exists); Run starts the engine before serving.
	m.sync = &datasync.Engine{DB: m.db, Logger: m.Logger}
	m.inbox.Sync = m.sync
	m.sync.Register(m.inbox.SyncTable())
	m.prefs = &push.PrefsStore{DB: m.db}
	m.banners = &banner.Service{DB: m.db, Images: m.store}
	m.whatsNew = &whatsnew.Service{DB: m.db, Images: m.store, Locale: m.inbox.Locale}
	uploads, err := upload.New(upload.Config{Store: m.store, DB: m.db, BasePath: "/v1/uploads/", Logger: m.Logger,
		S3: upload.S3Config{Endpoint: cfg.MinIOEndpoint, AccessKey: cfg.MinIOAccessKey, SecretKey: cfg.MinIOSecretKey,
			UseTLS: cfg.MinIOUseTLS, Region: cfg.MinIORegion, Bucket: m.store.BucketName(media.Uploads)}})
	if err != nil {
		return err
	}
	m.uploads = uploads // domains Register their upload purposes on it below
	m.feedback = &feedback.Service{DB: m.db, Sync: m.sync, Users: m.users, Store: m.store,
		Grants: &feedback.AccessGrants{DB: m.db}, Logger: m.Logger}
	m.feedback.Register()
	m.uploads.Register(m.feedback.Purpose())
	m.releases = &release.Service{DB: m.db, Store: m.store, Users: m.users, Cards: m.whatsNew, Logger: m.Logger}
	m.updates = &updatecheck.Service{View: &updatecheck.View{DB: m.db}, DB: m.db, Store: m.store,
		Signer: updatecheck.NewManifestSigner(keys.DeriveKey("manifest-url")), PublicBaseURL: cfg.PublicBaseURL}
	m.releases.OnChange = m.updates.View.Changed
	m.approvalCallbacks = &approval.Callbacks{DB: m.db, Log: m.Logger}
	m.approvalStats = &approval.Statistics{DB: m.db}
	m.feedback.Apps = m.updates // feedback from "com.example.portal" belongs to the app "portal" // this instance answers with its own writes at once
	// Start-up steps run in this order, every time (a map would change it from run to run).
	for _, step := range []struct {
		name   string
		ensure func(context.Context) error
	}{
		{"users", m.users.EnsureIndexes}, {"sessions", m.sessions.EnsureIndexes}, {"devices", m.devices.EnsureIndexes},
		{"inbox", m.inbox.EnsureIndexes}, {"releases", m.releases.EnsureIndexes}, {"downloads", m.updates.EnsureIndexes},
		{"uploads", m.uploads.EnsureIndexes}, {"feedback", m.feedback.Start},
		{"approval deliveries", m.approvalCallbacks.EnsureIndexes},
	} {
		if err := step.ensure(ctx); err != nil {
			return fmt.Errorf("prepare %s collections: %w", step.name, err)
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
		if err := m.banners.Refresh(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("reload banners", "error", err.Error())
		}
		if err := m.whatsNew.Refresh(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("reload what's-new cards", "error", err.Error())
		}
	})
	// The update check answers from memory; this notices release changes other instances made.
	m.workers.every(updatecheck.PollInterval, func(ctx context.Context) {
		if err := m.updates.View.Poll(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("poll release view", "error", err.Error())
		}
	})
	// Unfinished uploads are deleted after a day; uploads whose completion failed are retried.
	m.workers.every(time.Hour, func(ctx context.Context) {
		n, err := m.uploads.CleanupAbandoned(ctx, upload.DefaultMaxAge)
		if err != nil && ctx.Err() == nil {
			m.Logger.Warn("clean up abandoned uploads", "error", err.Error())
		}
		if n > 0 {
			m.Logger.Info("deleted abandoned uploads", "deleted", n)
		}
	})
	// The recipient view sees this process's writes at once; the reload picks up the users that
	// `mportal user add|import` writes into the running server's embedded database.
	if v := m.devices.View; v != nil {
		reload := func(ctx context.Context) {
			if err := v.Refresh(ctx); err != nil && ctx.Err() == nil {
				m.Logger.Warn("reload push recipient view", "error", err.Error())
			}
		}
		// Loaded in the background at start, so the first fan-out does not wait for it (tens of
		// seconds at 50k users on the embedded database).
		m.workers.run(reload)
		m.workers.every(5*time.Minute, reload)
	}
	// Every instance runs the publisher: each scheduled announcement is published by whichever
	// wins its Claim, and the loop refreshes this instance's view of announcements.
	m.workers.every(announce.PublishInterval, func(ctx context.Context) {
		if err := m.announce.PublishDue(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("publish due announcements", "error", err.Error())
		}
	})
	// Feedback counts are served from memory; on MongoDB other instances write them too.
	if !m.db.Embedded {
		m.workers.every(30*time.Second, func(ctx context.Context) {
			if err := m.feedback.LoadCounts(ctx); err != nil && ctx.Err() == nil {
				m.Logger.Warn("reload feedback counts", "error", err.Error())
			}
		})
	}
	// Every instance delivers decisions to the OAs and sends reminders: each attempt, reminder,
	// escalation and digest is claimed in the database first.
	m.workers.run(m.approvalCallbacks.Run)
	m.workers.run(m.approvalReminders.Run)
	// Tombstones and the sync change log are kept for the horizon (30 days), then purged.
	m.workers.every(time.Hour, func(ctx context.Context) {
		if err := m.sync.Purge(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("purge sync history", "error", err.Error())
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

// pushSender returns the FCM sender, or nil (push off, logged once) when no credentials file is
// configured; without push everything else works and notifications still reach the in-app inbox.
// A configured file that cannot be used fails start-up, like any other bad setting: an operator
// who set it expects push, and a warning in a log is easy to miss.
func (m *Main) pushSender(ctx context.Context) (push.Sender, error) {
	file := m.Config.FCMCredentialsFile
	if file == "" {
		m.Logger.Info("push notifications off: MPORTAL_FCM_CREDENTIALS_FILE is not set")
		return nil, nil
	}
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("MPORTAL_FCM_CREDENTIALS_FILE expects a readable Firebase service account key file: %w", err)
	}
	// Run's context may end as soon as startup is done, but the sender lives until Close: it gets
	// the context's values, never its cancellation.
	sender, err := push.NewFCMSender(context.WithoutCancel(ctx), file, m.PushOptions...)
	if err != nil {
		return nil, fmt.Errorf("MPORTAL_FCM_CREDENTIALS_FILE expects a Firebase service account key file (%s): %w", file, err)
	}
	m.Logger.Info("push notifications on (FCM)", "file", file)
	return sender, nil
}

// loginQueue maps MPORTAL_LOGIN_QUEUE, where 0 means that nobody waits, to auth.Sessions.HashQueue,
// where 0 means the default.
func loginQueue(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
