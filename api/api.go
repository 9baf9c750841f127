// Package api is mportal's HTTP API: a Fiber app with one route table, thin handlers, the
// middleware every request passes through, and the single mapping from errors to RFC 9457
// problem responses (errors.go).
package api

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
)

// Deps are the services and settings the API needs; cmd/mportal fills them in.
type Deps struct {
	Config        *config.Config
	Logger        *slog.Logger
	Registry      *prometheus.Registry // HTTP metrics are registered here; cmd serves it (MetricsHandler)
	Sessions      Sessions
	Directory     Directory
	Devices       Devices
	Inbox         Inbox
	Prefs         NotificationPrefs
	Banners       Banners
	WhatsNew      WhatsNew
	Announcements Announcements
	Feedback      Feedback
	Sync          Sync // offline sync: pull, push, rejects
	Releases      Releases
	Distribution  Distribution // update check, install page, downloads, numbers
	Uploads       Uploads      // resumable tus uploads at /v1/uploads/
	Approvals     Approvals    // OA events, approvers' tasks and decisions, integrations
	JWKS          func() ([]byte, error)
	OpenAPI       []byte
	Ready         map[string]Checker // name -> check, for /readyz
	Version       string

	// Approval operations: callback delivery log, statistics, reminder policies.
	ApprovalCallbacks ApprovalCallbacks
	ApprovalStats     ApprovalStats
	ApprovalReminders ApprovalReminders
}

// Server is the HTTP server.
type Server struct {
	deps    Deps
	log     *slog.Logger
	app     *fiber.App
	metrics *metrics
}

// New builds the Fiber app and its route table.
func New(d Deps) *Server {
	s := &Server{deps: d, log: d.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.metrics = newMetrics(d.Registry)
	bodyLimit := max(d.Config.BodyLimit, d.Config.ImportLimit)
	s.app = fiber.New(fiber.Config{
		AppName:               "mportal",
		ErrorHandler:          s.errorHandler,
		BodyLimit:             bodyLimit,
		ReadTimeout:           d.Config.ReadTimeout,
		WriteTimeout:          d.Config.WriteTimeout,
		IdleTimeout:           d.Config.IdleTimeout,
		ReadBufferSize:        d.Config.HeaderLimit, // request line + headers; beyond it 431 (errors.go)
		DisableStartupMessage: true,
		// Handlers keep strings from the request beyond the handler (in services, in errors):
		// copying them is cheaper than a use-after-reuse bug.
		Immutable: true,
	})
	s.routes()
	return s
}

// App returns the Fiber app, for tests that drive it with app.Test.
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for in-flight requests, at most until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	timeout := 15 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return s.app.ShutdownWithTimeout(timeout)
}

// routes is the one route table.
func (s *Server) routes() {
	app := s.app
	app.Use(s.requestID, s.observe, s.recover, rejectEncodedBodies)
	if len(s.deps.Config.CORSOrigins) > 0 {
		app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(s.deps.Config.CORSOrigins, ","),
			AllowHeaders:  "Authorization, Content-Type, X-Request-ID",
			ExposeHeaders: "X-Request-ID, Retry-After, ETag",
			MaxAge:        600,
		}))
	}

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)

	v1 := app.Group("/v1")
	v1.Get("/openapi.yaml", s.openAPI)
	v1.Get("/.well-known/jwks.json", s.jwks)

	v1.Post("/auth/login", s.login)
	v1.Post("/auth/refresh", s.refresh)

	// Auth is attached per route, not with Group(...).Use, so unknown paths stay 404s.
	// pending routes stay open while a one-time password is still to be changed.
	pending, authed := s.authenticate(true), s.authenticate(false)
	adminOnly := func(h fiber.Handler) []fiber.Handler {
		return []fiber.Handler{authed, requireRole(auth.RoleAdmin), h}
	}
	v1.Post("/auth/logout", pending, s.logout)
	v1.Get("/me", pending, s.getMe)
	v1.Post("/me/password", pending, s.changePassword)

	v1.Get("/auth/sessions", authed, s.listSessions)
	v1.Delete("/auth/sessions/:session_id", authed, s.revokeSession)
	v1.Patch("/me", authed, s.updateMe)

	v1.Put("/devices/:device_id", authed, s.checkIn)
	v1.Get("/devices", authed, s.listDevices)
	v1.Delete("/devices/:device_id", authed, s.deleteDevice)

	v1.Get("/inbox", authed, s.listInbox)
	v1.Get("/inbox/unread-count", authed, s.unreadCount)
	v1.Post("/inbox/read-all", authed, s.markAllRead)
	v1.Post("/inbox/:item_id/read", authed, s.markRead)
	v1.Get("/me/notification-preferences", authed, s.getNotificationPrefs)
	v1.Put("/me/notification-preferences", authed, s.setNotificationPrefs)
	s.bannerRoutes(v1, authed)
	s.whatsNewRoutes(v1, authed)
	s.announcementRoutes(v1, authed)
	s.feedbackRoutes(v1, authed)
	s.syncRoutes(v1, authed)
	s.releaseRoutes(v1, authed)
	s.distributionRoutes(v1, authed)
	s.uploadRoutes(v1, authed)
	s.approvalRoutes(v1, authed)
	s.integrationRoutes(v1, adminOnly)
	s.approvalOpsRoutes(v1, authed)

	v1.Get("/admin/users", adminOnly(s.listUsers)...)
	v1.Post("/admin/users", adminOnly(s.createUser)...)
	v1.Post("/admin/users/import", adminOnly(s.importUsers)...)
	v1.Get("/admin/users/:user_id", adminOnly(s.getUser)...)
	v1.Patch("/admin/users/:user_id", adminOnly(s.updateUser)...)
	v1.Put("/admin/users/:user_id/roles", adminOnly(s.setRoles)...)
	v1.Post("/admin/users/:user_id/password-reset", adminOnly(s.resetPassword)...)
	v1.Post("/admin/users/:user_id/revoke-sessions", adminOnly(s.revokeUserSessions)...)
	v1.Get("/admin/departments", adminOnly(s.departments)...)
	// No catch-all: Fiber answers unmatched paths with fiber.ErrNotFound, which the error
	// handler turns into a 404 problem.
}
