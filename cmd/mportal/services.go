package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/api/option"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/audit"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/banner"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/feedback"
	"github.com/mportal/mportal/internal/inbox"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/updates"
	"github.com/mportal/mportal/internal/training"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/internal/whatsnew"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

// services builds the domain services, each one complete (a full struct literal or its
// constructor) and after the services it uses, so nothing is patched in later.
func (m *Main) services(keys *auth.KeySet, reg *prometheus.Registry, sender push.Sender) error {
	cfg, db := m.Config, m.db
	argon := auth.DefaultArgon2
	if m.Argon != nil {
		argon = *m.Argon
	}
	// Push fan-outs stream audiences from memory: the embedded database reads a whole collection
	// per query. Users and Devices keep the view current with their writes.
	var recipients *directory.RecipientView
	if db.Embedded {
		recipients = &directory.RecipientView{DB: db}
	}
	// Usage analytics: the apps' events and the server's own, under a keyed pseudonym. The
	// recorder reads users' departments and roles from Users (built below) only when it writes.
	keyFile := cfg.AnalyticsKeyFile
	analyticsKey, err := analytics.LoadKey(cmp.Or(keyFile, cfg.DefaultAnalyticsKeyFile()), keyFile == "")
	if err != nil {
		return fmt.Errorf("MPORTAL_ANALYTICS_KEY_FILE: %w", err)
	}
	m.analytics = &analytics.Service{DB: db, Key: analyticsKey, Retention: cfg.AnalyticsRetention, Now: m.Clock,
		Members:    func(ctx context.Context) ([]analytics.Member, error) { return activeMembers(ctx, m.users) },
		CatalogApp: func(ctx context.Context, id string) string { return m.updates.CatalogID(ctx, id) }} // built below
	m.usage = analytics.NewRecorder(m.analytics, func(ctx context.Context, userID string) (string, []string, error) {
		u, err := m.users.Me(ctx, userID)
		if err != nil {
			return "", nil, err
		}
		roles := make([]string, len(u.Roles))
		for i, r := range u.Roles {
			roles[i] = string(r)
		}
		return u.Department, roles, nil
	}, m.Logger)
	m.devices = &directory.Devices{DB: db, View: recipients, Usage: m.usage, Now: m.Clock}
	// The one cycle: Sessions looks accounts up in Users, and Users revokes a user's sessions
	// (disabling, password reset). Users gets a callback into the Sessions built
	// on the next statement; it is called only when serving requests, long after both exist.
	// Devices: a user whose roles or department an admin changes leaves the release channels
	// that no longer include them at once, with their devices.
	m.users = &directory.Users{DB: db, Argon: argon, View: recipients, Now: m.Clock, Devices: m.devices, Logger: m.Logger,
		Sessions: revokeFunc(func(ctx context.Context, userID string) error { return m.sessions.RevokeUser(ctx, userID) })}
	m.sessions = &auth.Sessions{
		DB:         db,
		Devices:    m.devices, // a signed-out device stops receiving the user's pushes
		Logger:     m.Logger,
		Accounts:   m.users,
		Tokens:     &auth.Tokens{Keys: keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTTL, Now: m.Clock},
		Throttle:   auth.NewThrottle(auth.ThrottleConfig{Now: m.Clock}),
		RefreshTTL: cfg.RefreshTTL,
		Recheck:    cfg.SessionRecheck,
		Argon:      argon,
		// Bounded argon2 work: a burst of logins queues, then answers 503 with Retry-After.
		HashConcurrency: cfg.LoginConcurrency,
		HashQueue:       loginQueue(cfg.LoginQueue),
		Usage:           m.usage,
		Now:             m.Clock,
	}
	// Offline sync: the synced tables register below; prepare starts the engine before serving.
	m.sync = &datasync.Engine{DB: db, Logger: m.Logger, Now: m.Clock}
	m.inbox = &inbox.Store{DB: db, Sync: m.sync, Now: m.Clock, Locale: func(ctx context.Context, userID string) (string, error) {
		u, err := m.users.Me(ctx, userID)
		if err != nil {
			return "", err
		}
		return u.Locale, nil
	}}
	m.prefs = &push.PrefsStore{DB: db, Now: m.Clock}
	m.push = &push.Engine{
		DB:         db,
		Sender:     sender,
		Recipients: &directory.Recipients{DB: db, View: recipients, Now: m.Clock},
		Inbox:      m.inbox,
		Metrics:    push.NewMetrics(reg),
		Logger:     m.Logger,
		Now:        m.Clock,
		Retention:  cfg.PushRetention,
	}
	m.banners = &banner.Service{DB: db, Images: m.store, Now: m.Clock}
	m.whatsNew = &whatsnew.Service{DB: db, Images: m.store, Locale: m.inbox.Locale, Now: m.Clock}
	m.announce = &announce.Service{DB: db, Push: m.push, Members: &directory.Recipients{DB: db, View: recipients, Now: m.Clock}, Images: m.store,
		Sync: m.sync, Usage: m.usage, Logger: m.Logger, Now: m.Clock}
	m.inbox.Withdrawn = m.announce.Withdrawn // a withdrawn announcement leaves every inbox
	uploads, err := upload.New(upload.Config{Store: m.store, DB: db, BasePath: "/v1/uploads/", Logger: m.Logger, Now: m.Clock,
		S3: upload.S3Config{Endpoint: cfg.MinIOEndpoint, AccessKey: cfg.MinIOAccessKey, SecretKey: cfg.MinIOSecretKey,
			UseTLS: cfg.MinIOUseTLS, Region: cfg.MinIORegion, Bucket: m.store.BucketName(media.Uploads)}})
	if err != nil {
		return err
	}
	m.uploads = uploads
	// The read side of distribution answers from a view that the management side tells about
	// its own writes at once (OnChange); other instances' writes arrive by polling (workers).
	// The second cycle: the view reads the release catalog, and release tells the view about its
	// own writes at once (other instances' writes arrive by polling, see workers). Release gets a
	// callback into the view built on the next statement; it runs only after a write, long after
	// both exist.
	// Channel membership scopes synced data ("ch:<app>/<channel>"): Access is the sync engine.
	// Members: the reach of a channel, for the console's confirmations. Devices: a user who
	// leaves a channel, or whom its new roles or departments leave out, stops counting in it at
	// once.
	m.releases = &release.Service{DB: db, Store: m.store, Users: m.users, Cards: m.whatsNew, Logger: m.Logger,
		Push: m.push, Access: m.sync, OnChange: func() { m.updates.View.Changed() }, Now: m.Clock,
		Members: &directory.Recipients{DB: db, View: recipients, Now: m.Clock}, Devices: m.devices}
	m.updates = &updates.Service{View: &updates.View{Releases: m.releases}, DB: db, Devices: m.devices, Store: m.store,
		Signer: updates.NewManifestSigner(keys.DeriveKey("manifest-url")), PublicBaseURL: cfg.PublicBaseURL, Usage: m.usage, Now: m.Clock}
	m.analytics.Releases = m.updates // staged releases and devices' minimum builds, for adoption
	m.devices.Channels = m.updates   // a device counts in a channel only when its user is a member (also for Users' moves)
	m.whatsNew.Builds = m.updates    // no cards of builds not yet released to the reader's channels
	m.feedback = &feedback.Service{DB: db, Sync: m.sync, Users: m.users, Store: m.store, Push: m.push,
		Grants: &feedback.AccessGrants{Sync: m.sync}, Usage: m.usage, Logger: m.Logger, Now: m.Clock,
		Apps: m.updates} // feedback from "com.example.portal" belongs to the app "portal"

	// Training videos: ops upload through tus (purpose training_video); the transcoding queue
	// runs in workers.go; players reach the playlists through signed URLs.
	// Watch progress syncs as the training_progress table; the completion report counts the
	// directory's active employees.
	m.training = &training.Service{DB: db, Store: m.store, PlaybackKey: keys.DeriveKey("training-playback"),
		PublicBaseURL: cfg.PublicBaseURL, MaxDuration: cfg.TrainingMaxDuration, Workers: cfg.TrainingWorkers,
		Sync: m.sync, Directory: trainingDirectory(m.users), Usage: m.usage, Logger: m.Logger, Now: m.Clock}
	m.trainingNotices = &training.Notices{DB: db, Push: m.push, Prefs: m.prefs, Completions: m.training,
		Members: &directory.Recipients{DB: db, Now: m.Clock}, Steps: training.StepsAt(cfg.TrainingReminders),
		Log: m.Logger, Now: m.Clock, Zone: func(ctx context.Context, userID string) (string, error) {
			u, err := m.users.Me(ctx, userID)
			if err != nil {
				return "", err
			}
			return u.Timezone, nil
		}}

	// Approvals: OA events in, the approvers' tasks, decisions and delegations; decisions go back
	// to the OA through the callback outbox; reminders nudge slow approvers; ops read the numbers.
	m.approvals = &approval.Service{DB: db, Directory: m.users, Push: m.push, Sync: m.sync, Log: m.Logger, Usage: m.usage, Now: m.Clock,
		ListInMemory: db.Embedded}
	m.approvalCallbacks = &approval.Callbacks{DB: db, Log: m.Logger, Now: m.Clock, Retention: cfg.ApprovalDeliveryRetention}
	m.approvalStats = &approval.Statistics{DB: db, Now: m.Clock}
	// What ops and admins change in the web console lands in the audit log.
	m.audit = &audit.Log{DB: db, Now: m.Clock}
	m.approvalReminders = &approval.Reminders{DB: db, Push: m.push, Prefs: m.prefs, Directory: m.users, Log: m.Logger,
		Now: m.Clock, Zone: func(ctx context.Context, userID string) (string, error) {
			u, err := m.users.Me(ctx, userID)
			if err != nil {
				return "", err
			}
			return u.Timezone, nil
		}}

	// Synced tables and upload purposes register before prepare starts the engine, which keeps
	// its tables in registration order.
	m.sync.Register(m.inbox.SyncTable())
	m.feedback.Register()
	m.sync.Register(m.announce.SyncTable())
	m.sync.Register(m.approvals.SyncTable())
	m.sync.Register(m.approvals.DecisionsSyncTable())
	m.sync.Register(m.training.ProgressSyncTable())
	m.uploads.Register(m.feedback.Purpose())
	m.uploads.Register(m.training.Purpose())
	return nil
}

// trainingDirectory is the directory as the training completion report reads it.
func trainingDirectory(users *directory.Users) training.Directory {
	return training.DirectoryFunc(func(ctx context.Context) ([]training.Employee, error) {
		list, err := users.ActiveRoster(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]training.Employee, len(list))
		for i, u := range list {
			out[i] = training.Employee{ID: u.ID, EmployeeNo: u.EmployeeNo, Name: u.Name, Department: u.Department, Roles: u.Roles}
		}
		return out, nil
	})
}

// activeMembers is the directory's active accounts as analytics' activation reads them.
func activeMembers(ctx context.Context, users *directory.Users) ([]analytics.Member, error) {
	list, err := users.ActiveUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]analytics.Member, 0, len(list))
	for _, u := range list {
		out = append(out, analytics.Member{UserID: u.ID, Department: u.Department, CreatedAt: u.CreatedAt})
	}
	return out, nil
}

// revokeFunc is a directory.SessionRevoker made of a function: it breaks the Users/Sessions cycle.
type revokeFunc func(ctx context.Context, userID string) error

// RevokeUser implements directory.SessionRevoker.
func (f revokeFunc) RevokeUser(ctx context.Context, userID string) error { return f(ctx, userID) }

var _ directory.SessionRevoker = revokeFunc(nil)

// startStep is one start-up step; what prefixes its error.
type startStep struct {
	what string
	run  func(context.Context) error
}

// prepare runs the start-up steps in this order, every time (a map would change it from run to
// run): indexes and in-memory state of each service's collections, the first admin, the sync
// engine (once every synced table is registered), and last the embedded database's _id indexes,
// which need the collections to exist.
func (m *Main) prepare(ctx context.Context) error {
	steps := []startStep{
		{"prepare users collections", m.users.EnsureIndexes},
		{"prepare sessions collections", m.sessions.EnsureIndexes},
		{"prepare devices collections", m.devices.EnsureIndexes},
		{"prepare inbox collections", m.inbox.EnsureIndexes},
		{"prepare releases collections", m.releases.EnsureIndexes},
		{"prepare downloads collections", m.updates.EnsureIndexes},
		{"prepare uploads collections", m.uploads.EnsureIndexes},
		{"prepare feedback collections", m.feedback.Start},
		{"prepare training collections", m.training.EnsureIndexes},
		{"prepare training notice collections", m.trainingNotices.EnsureIndexes},
		{"prepare approval collections", m.approvals.EnsureIndexes},
		{"prepare approval delivery collections", m.approvalCallbacks.EnsureIndexes},
		{"prepare approval reminder collections", m.approvalReminders.EnsureCollections},
		{"prepare analytics collections", m.analytics.Start},
		{"prepare audit collections", m.audit.EnsureIndexes},
		{"seed admin", m.seedAdmin},
		{"sync engine", m.sync.Start},
	}
	if m.embedded != nil {
		// FerretDB's own _id index does not serve its lookups.
		steps = append(steps, startStep{"embedded database indexes", func(ctx context.Context) error {
			return m.embedded.EnsureIDIndexes(ctx, m.Config.MongoDatabase)
		}})
	}
	for _, step := range steps {
		if err := step.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", step.what, err)
		}
	}
	return nil
}

// seedAdmin creates the first admin on an empty directory and prints its one-time password.
func (m *Main) seedAdmin(ctx context.Context) error {
	password, created, err := m.users.SeedAdmin(ctx, m.Config.AdminEmployeeNo)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(m.Stdout, "\nSeeded the first admin. Sign in with\n  login:    %s\n  password: %s\n"+
			"This one-time password is shown once; you must change it at first sign-in.\n\n", m.Config.AdminEmployeeNo, password)
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
	m.workers.every(updates.PollInterval, func(ctx context.Context) {
		if err := m.updates.View.Poll(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("poll release view", "error", err.Error())
		}
	})
	// Unfinished uploads are deleted after a day; uploads whose completion failed are retried.
	m.workers.hourly(func(ctx context.Context) {
		n, err := m.uploads.CleanupAbandoned(ctx, upload.DefaultMaxAge)
		if err != nil && ctx.Err() == nil {
			m.Logger.Warn("clean up abandoned uploads", "error", err.Error())
		}
		if n > 0 {
			m.Logger.Info("deleted abandoned uploads", "deleted", n)
		}
	})
	// Photos stored before their location was removed at upload lose it here (each photo is
	// read once; later passes only read which ones were done).
	m.workers.hourly(func(ctx context.Context) {
		r, err := m.feedback.StripStoredPhotos(ctx)
		if err != nil && ctx.Err() == nil {
			m.Logger.Warn("strip the location from stored photos", "error", err.Error())
		}
		if r != (feedback.StripReport{}) {
			m.Logger.Info("stored photos checked for a location", "checked", r.Checked, "rewritten", r.Rewritten,
				"skipped", r.Skipped, "failed", r.Failed)
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
	// OA events are applied by one replica at a time (a lease per window, claimed by an insert);
	// an event accepted but not yet applied waits in the database, across restarts.
	m.workers.run(m.approvals.RunEvents)
	m.workers.run(m.approvalCallbacks.Run)
	m.workers.every(m.Config.ApprovalReminderInterval, func(ctx context.Context) {
		if _, err := m.approvalReminders.RunOnce(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("approval: reminders", "err", err)
		}
	})
	// The callback delivery log keeps a bounded window (no TTL index on the embedded database).
	m.workers.hourly(func(ctx context.Context) {
		if _, err := m.approvalCallbacks.PurgeDeliveries(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("purge approval delivery log", "error", err.Error())
		}
	})
	// Finished notifications' records are kept for MPORTAL_PUSH_RETENTION (no TTL index on the
	// embedded database, which scans a collection to find a document by _id).
	m.workers.hourly(func(ctx context.Context) {
		if _, err := m.push.Purge(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("purge finished notifications", "error", err.Error())
		}
	})
	// Tombstones and the sync change log are kept for the horizon (30 days), then purged.
	m.workers.hourly(func(ctx context.Context) {
		if err := m.sync.Purge(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("purge sync history", "error", err.Error())
		}
	})
	// Usage analytics: the server's own events are written in batches; raw events past the
	// retention are deleted; on MongoDB the rollups other instances wrote are picked up.
	m.workers.run(m.usage.Run)
	m.workers.hourly(func(ctx context.Context) {
		if _, err := m.analytics.Purge(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("purge analytics events", "error", err.Error())
		}
		// Closed days' rollup fragments are merged into one per day (claimed once across
		// replicas by the merge's insert), so start-up loading does not grow with busy days.
		if _, _, err := m.analytics.Compact(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("compact analytics rollups", "error", err.Error())
		}
	})
	if !m.db.Embedded {
		m.workers.every(time.Minute, func(ctx context.Context) {
			if err := m.analytics.Reload(ctx); err != nil && ctx.Err() == nil {
				m.Logger.Warn("reload analytics rollups", "error", err.Error())
			}
		})
	}
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
	opts := m.PushOptions
	if m.Config.FCMEndpoint != "" {
		opts = append([]option.ClientOption{option.WithEndpoint(m.Config.FCMEndpoint)}, opts...)
	}
	sender, err := push.NewFCMSender(context.WithoutCancel(ctx), file, opts...)
	if err != nil {
		return nil, fmt.Errorf("MPORTAL_FCM_CREDENTIALS_FILE expects a Firebase service account key file (%s): %w", file, err)
	}
	sender.Now = m.Clock
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
