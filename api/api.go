// Package api is mportal's HTTP API: a Fiber app with one route table, thin handlers, the
// middleware every request passes through, and the single mapping from errors to RFC 9457
// problem responses (errors.go).
package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/conntimeout"
)

// Deps are the services and settings the API needs; cmd/mportal fills them in.
type Deps struct {
	Config *config.Config
	Logger *slog.Logger
	// AccessLog, when set, takes the access log lines (JSON, in the shape of Logger's lines),
	// encoded by hand rather than through Logger: cmd sets it to Logger's own buffered writer
	// when the level lets info lines through. Nil: the lines go through Logger.
	AccessLog     io.Writer
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
	Updates       Updates   // update check, install page, downloads, numbers
	Uploads       Uploads   // resumable tus uploads at /v1/uploads/
	Training      Training  // training videos; nil leaves their routes out
	Approvals     Approvals // OA events, approvers' tasks and decisions, integrations
	Analytics     Analytics // usage events and the operating numbers; nil leaves their routes out
	Audit         Audit     // the console's audit log
	JWKS          func() ([]byte, error)
	OpenAPI       []byte
	Ready         map[string]Checker // name -> check, for /readyz
	Version       string

	// Approval operations: callback delivery log, statistics, reminder policies.
	ApprovalCallbacks ApprovalCallbacks
	ApprovalStats     ApprovalStats
	ApprovalReminders ApprovalReminders

	// Now is the clock of pages that default to "the last 30 days" (the console); nil is the
	// wall clock.
	Now clock.Func
}

// Server is the HTTP server.
type Server struct {
	deps    Deps
	log     *slog.Logger
	app     *fiber.App
	metrics *metrics
	// observer records metrics and access lines off the request path when AccessLog is set.
	observer *observer
	// consoleRenewals shares one renewal of a console session among its concurrent requests.
	consoleRenewals consoleRenewals
}

// New builds the Fiber app and its route table. With Deps.AccessLog set it also starts the
// goroutine that writes the access log and counts the metrics (observer): Shutdown stops it.
func New(d Deps) *Server {
	s := &Server{deps: d, log: d.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.metrics = newMetrics(d.Registry)
	if d.AccessLog != nil {
		s.observer = newObserver(d.AccessLog, s.metrics)
	}
	bodyLimit := max(d.Config.BodyLimit, d.Config.ImportLimit)
	s.app = fiber.New(fiber.Config{
		AppName:               "mportal",
		ErrorHandler:          s.errorHandler,
		BodyLimit:             bodyLimit,
		ReadBufferSize:        d.Config.HeaderLimit, // request line + headers; beyond it 431 (errors.go)
		DisableStartupMessage: true,
		// No ReadTimeout, WriteTimeout or IdleTimeout: Serve's listener enforces them
		// (internal/conntimeout), without fasthttp's three deadline changes per request.

		// Handlers keep strings from the request beyond the handler (in services, in errors):
		// copying them is cheaper than a use-after-reuse bug.
		Immutable: true,

		// Bodies are streamed: a tus PATCH may carry a whole file, read as it arrives; every
		// other route's body is read whole, at most bodyLimit, by limitBody (body.go) before
		// the route runs. fasthttp only uses BodyLimit to decide how much to read ahead.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
	})
	s.handleReadErrors()
	s.routes()
	s.metrics.preload(s.app.Stack())
	return s
}

// A request too large to read (431) is answered, and its connection closed, while the rest of
// it may still be arriving. A socket closed with input unread sends a reset, which makes the
// client's system drop the answer it has not read yet: the app saw a broken connection, not the
// 431 and its problem document (net/http drains such a request too). drainRequest reads what
// still comes, at most drainMax within drainWait, before the answer goes out.
const (
	drainWait = 250 * time.Millisecond
	drainMax  = 64 << 10
)

func drainRequest(c net.Conn) {
	if err := c.SetReadDeadline(time.Now().Add(drainWait)); err != nil {
		return
	}
	_, _ = io.CopyN(io.Discard, c, drainMax)
}

// handleReadErrors wraps Fiber's handler of the errors fasthttp meets reading a request. A
// request too large to read is drained before its 431 (drainRequest). A connection that broke
// while its request was being read (the client reset it: an app killed, a phone that lost its
// network) stays out of the error log: Fiber answers it as a 502, which our error handler
// logged as an unexpected failure, an ERROR line for the network's everyday weather, and nobody
// is there to read an answer. It is logged at debug level. Every other error goes to Fiber as
// before (a timeout 408, headers too large 431, a malformed request 400).
//
// fasthttp's text for such an error quotes what it had read of the request, which may hold an
// Authorization header: the line carries no error text, and SecureErrorLogMessage keeps the
// request's bytes out of every error fasthttp formats.
func (s *Server) handleReadErrors() {
	srv := s.app.Server()
	srv.SecureErrorLogMessage = true
	fiberHandler := srv.ErrorHandler
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		if errors.As(err, new(*fasthttp.ErrSmallBuffer)) {
			drainRequest(ctx.Conn())
		}
		var netErr net.Error
		if errors.As(err, &netErr) && !netErr.Timeout() {
			s.log.Debug("connection broke while its request was read", "ip", ctx.RemoteIP().String(),
				"reset", errors.Is(err, syscall.ECONNRESET))
			ctx.SetConnectionClose()
			return
		}
		fiberHandler(ctx, err)
	}
}

// App returns the Fiber app, for tests that drive it with app.Test.
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown, each under the configured read, write and idle
// timeouts.
func (s *Server) Serve(ln net.Listener) error {
	cfg := s.deps.Config
	return s.app.Listener(conntimeout.Listener(ln, conntimeout.Timeouts{
		Read: cfg.ReadTimeout, Write: cfg.WriteTimeout, Idle: cfg.IdleTimeout}))
}

// Shutdown stops accepting connections and waits for in-flight requests, at most until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	timeout := 15 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	err := s.app.ShutdownWithTimeout(timeout)
	if s.observer != nil {
		s.observer.Close() // the requests that ended meanwhile: their lines and metrics
	}
	return err
}

// routes is the one route table: every path with its middleware and handler is registered
// here and nowhere else; the handlers live in <resource>_handlers.go. Requests pass frame
// (request id, panic recovery, no compressed bodies, error rendering, metrics, access log; see
// middleware.go) and CORS when configured before any route.
func (s *Server) routes() {
	app := s.app
	app.Use(s.frame)
	if len(s.deps.Config.CORSOrigins) > 0 {
		app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(s.deps.Config.CORSOrigins, ","),
			AllowHeaders:  "Authorization, Content-Type, X-Request-ID",
			ExposeHeaders: "X-Request-ID, Retry-After, ETag",
			MaxAge:        600,
		}))
	}

	// Auth is attached per route, not with Group(...).Use, so unknown paths stay 404s.
	// pending routes stay open while a one-time password is still to be changed. The role
	// checks run before the handler; the services check the roles again.
	pending, authed := s.authenticate(true), s.authenticate(false)
	withRoles := func(roles ...auth.Role) func(fiber.Handler) []fiber.Handler {
		return func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{authed, requireRole(roles...), h} }
	}
	adminOnly, opsOnly, opsOrAdmin := withRoles(auth.RoleAdmin), withRoles(auth.RoleOps), withRoles(auth.RoleOps, auth.RoleAdmin)

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)

	v1 := app.Group("/v1")
	// The update check first: every app start asks it, and Fiber tries a method's routes in the
	// order they were added, each miss a match on the path (about 2% of its CPU from here at the
	// end). No route before it matched its paths, so the move changes no answer.
	v1.Get("/apps/:app_id/update", authed, s.checkUpdate)
	v1.Get("/openapi.yaml", s.openAPI)
	v1.Get("/.well-known/jwks.json", s.jwks)

	v1.Post("/auth/login", s.login)
	v1.Post("/auth/refresh", s.refresh)
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

	// Login-page banners: the login page reads the public ones without signing in; the banner
	// service lets only ops manage them.
	v1.Get("/public/banners", s.publicBanners)
	v1.Get("/ops/banners", authed, s.listBanners)
	v1.Post("/ops/banners", authed, s.createBanner)
	v1.Patch("/ops/banners/:banner_id", authed, s.updateBanner)
	v1.Delete("/ops/banners/:banner_id", authed, s.deleteBanner)

	// What's-new cards: ops attach them to builds (the service checks the role), and an app that
	// was updated asks for the cards of the builds it skipped.
	v1.Get("/whats-new", authed, s.whatsNewForUpdate)
	v1.Get("/ops/whats-new", authed, s.listWhatsNew)
	v1.Post("/ops/whats-new", authed, s.createWhatsNew)
	v1.Delete("/ops/whats-new/:card_id", authed, s.deleteWhatsNew)

	// Announcements and their images: ops write, any signed-in user reads.
	v1.Post("/ops/announcements", opsOnly(s.createAnnouncement)...)
	v1.Get("/ops/announcements", opsOnly(s.listAnnouncements)...)
	v1.Get("/ops/announcements/:announcement_id", opsOnly(s.getAnnouncement)...)
	v1.Patch("/ops/announcements/:announcement_id", opsOnly(s.updateAnnouncement)...)
	v1.Post("/ops/announcements/:announcement_id/withdraw", opsOnly(s.withdrawAnnouncement)...)
	v1.Get("/ops/announcements/:announcement_id/stats", opsOnly(s.announcementStats)...)
	v1.Post("/ops/announcements/:announcement_id/remind", opsOnly(s.remindAnnouncement)...)
	v1.Post("/ops/images", opsOnly(s.uploadImage)...)
	v1.Get("/images/:image_key", authed, s.getImage)
	v1.Get("/announcements", authed, s.announcementFeed)
	v1.Get("/announcements/:announcement_id", authed, s.readAnnouncement)
	v1.Post("/announcements/:announcement_id/read", authed, s.markAnnouncementRead)
	v1.Post("/announcements/:announcement_id/ack", authed, s.acknowledgeAnnouncement)

	// Field feedback: the app writes it through /sync; users read theirs (and shared feedback)
	// here, add "me too" and download attachments; ops and admins triage.
	// export.csv before :feedback_id, which would otherwise match it.
	v1.Get("/ops/feedback/export.csv", opsOrAdmin(s.exportFeedback)...)
	v1.Get("/ops/feedback", opsOrAdmin(s.listOpsFeedback)...)
	v1.Get("/ops/feedback/:feedback_id", opsOrAdmin(s.getOpsFeedback)...)
	v1.Patch("/ops/feedback/:feedback_id", opsOrAdmin(s.updateFeedback)...)
	v1.Post("/ops/feedback/:feedback_id/merge", opsOrAdmin(s.mergeFeedback)...)
	v1.Post("/ops/feedback/:feedback_id/replies", opsOrAdmin(s.replyFeedback)...)
	v1.Get("/feedback", authed, s.listMyFeedback)
	v1.Get("/feedback/attachments/:attachment_id/content", authed, s.feedbackAttachment)
	v1.Get("/feedback/:feedback_id", authed, s.getFeedback)
	v1.Put("/feedback/:feedback_id/me-too", authed, s.meToo(true))
	v1.Delete("/feedback/:feedback_id/me-too", authed, s.meToo(false))

	// Offline sync: WatermelonDB's pull and push, and the caller's rejected records.
	v1.Get("/sync/pull", authed, s.syncPull)
	v1.Post("/sync/push", authed, s.syncPush)
	v1.Get("/sync/rejects", authed, s.listSyncRejects)
	v1.Delete("/sync/rejects/:reject_id", authed, s.dismissSyncReject)

	// App distribution, management side (release_handlers.go): employees see apps and channels
	// and join or leave them; ops and admins manage apps, channels, builds and releases.
	v1.Get("/apps", authed, s.listMyApps)
	v1.Get("/apps/:app_id/channels", authed, s.listMyChannels)
	v1.Post("/apps/:app_id/channels/:channel/join", authed, s.joinChannel)
	v1.Post("/apps/:app_id/channels/:channel/leave", authed, s.leaveChannel)
	v1.Get("/ops/apps", opsOrAdmin(s.listApps)...)
	v1.Post("/ops/apps", opsOrAdmin(s.createApp)...)
	v1.Get("/ops/apps/:app_id", opsOrAdmin(s.getApp)...)
	v1.Patch("/ops/apps/:app_id", opsOrAdmin(s.updateApp)...)
	v1.Get("/ops/apps/:app_id/channels", opsOrAdmin(s.listChannels)...)
	v1.Put("/ops/apps/:app_id/channels/:channel", opsOrAdmin(s.putChannel)...)
	v1.Get("/ops/apps/:app_id/channels/:channel/members", opsOrAdmin(s.listMembers)...)
	v1.Put("/ops/apps/:app_id/channels/:channel/members/:user_id", opsOrAdmin(s.inviteMember)...)
	v1.Delete("/ops/apps/:app_id/channels/:channel/members/:user_id", opsOrAdmin(s.removeMember)...)
	v1.Post("/ops/apps/:app_id/builds/uploads", opsOrAdmin(s.startBuildUpload)...)
	v1.Post("/ops/apps/:app_id/builds", opsOrAdmin(s.createBuild)...)
	v1.Get("/ops/apps/:app_id/builds", opsOrAdmin(s.listBuilds)...)
	v1.Patch("/ops/apps/:app_id/builds/:build_id", opsOrAdmin(s.updateBuild)...)
	v1.Delete("/ops/apps/:app_id/builds/:build_id", opsOrAdmin(s.deleteBuild)...)
	v1.Post("/ops/apps/:app_id/releases", opsOrAdmin(s.publishRelease)...)
	v1.Get("/ops/apps/:app_id/tracks", opsOrAdmin(s.listTracks)...)
	v1.Put("/ops/apps/:app_id/tracks/:platform/:channel/min-build", opsOrAdmin(s.setMinBuild)...)
	v1.Post("/ops/apps/:app_id/tracks/:platform/:channel/releases/:release_id/:action", opsOrAdmin(s.changeRelease)...)

	// App distribution, read side (updates_handlers.go): the update check (first of all, above),
	// iOS manifests, downloads and the numbers for ops. iOS installd fetches the manifest without
	// the app's headers: the signed link authorizes. Downloads also accept the install page's cookie.
	v1.Get("/apps/:app_id/builds/:build_id/manifest.plist", s.manifest)
	v1.Get("/apps/:app_id/builds/:build_id/download", s.installAuth(false), s.download)
	v1.Get("/ops/apps/:app_id/stats", opsOrAdmin(s.appStats)...)
	// The install page (install_handlers.go), outside /v1 because browsers, not the apps, use
	// it: a bearer token or the install cookie; the page itself answers a visitor without a
	// session with the login form.
	app.Post("/install/login", s.installLogin)
	app.Get("/install/:app_id", s.installAuth(true), s.installPage)
	app.Get("/install/:app_id/qr.png", s.installAuth(false), s.installQR)
	app.Get("/install/:app_id/icon.png", s.installAuth(false), s.installIcon)

	// The ops web console (console_handlers.go), outside /v1 like the install page: HTML for
	// browsers, signed in with its own cookie. Pages answer a visitor without a session with the
	// sign-in form; every change is a form post with the anti-forgery token.
	consolePage, consoleChange := []fiber.Handler{s.consoleAuth}, []fiber.Handler{s.consoleAuth, s.consoleChange}
	consoleAdmin := func(hs []fiber.Handler, h fiber.Handler) []fiber.Handler {
		return append(hs[:len(hs):len(hs)], s.consoleAdmin, h)
	}
	app.Get("/console/static/:file", s.consoleStatic)
	app.Post("/console/login", s.consoleLogin)
	app.Post("/console/logout", s.consoleSignedIn, s.consoleChange, s.consoleLogout)
	// The password form (console_password_handlers.go), open to a user with a one-time password.
	app.Get(consolePasswordPath, s.consolePending, s.consolePasswordForm)
	app.Post(consolePasswordPath, s.consolePending, s.consoleChange, s.consoleChangePassword)
	app.Get("/console/apps", append(consolePage, s.consoleApps)...)
	// The apps screens (console_apps*_handlers.go): builds, releases, channels and members.
	app.Get("/console/apps/:app_id", append(consolePage, s.consoleApp)...)
	app.Post("/console/apps/:app_id/builds/uploads", append(consoleChange, s.consoleStartBuildUpload)...)
	app.Post("/console/apps/:app_id/builds", append(consoleChange, s.consoleCreateBuild)...)
	app.Get("/console/apps/:app_id/builds/:build_id", append(consolePage, s.consoleBuild)...)
	app.Get("/console/apps/:app_id/builds/:build_id/icon.png", append(consolePage, s.consoleBuildIcon)...)
	app.Get("/console/apps/:app_id/releases/new", append(consolePage, s.consoleConfirmPublish)...)
	app.Post("/console/apps/:app_id/releases", append(consoleChange, s.consolePublish)...)
	app.Get("/console/apps/:app_id/tracks/:platform/:channel/releases/:release_id", append(consolePage, s.consoleConfirmChange)...)
	app.Post("/console/apps/:app_id/tracks/:platform/:channel/releases/:release_id", append(consoleChange, s.consoleChangeRelease)...)
	app.Get("/console/feedback", append(consolePage, s.consoleFeedback)...)
	app.Get("/console/feedback.csv", append(consolePage, s.consoleFeedbackCSV)...)
	app.Get("/console/feedback/:feedback_id", append(consolePage, s.consoleFeedbackDetail)...)
	app.Post("/console/feedback/:feedback_id", append(consoleChange, s.consoleUpdateFeedback)...)
	app.Post("/console/feedback/:feedback_id/merge", append(consoleChange, s.consoleMergeFeedback)...)
	app.Post("/console/feedback/:feedback_id/replies", append(consoleChange, s.consoleReplyFeedback)...)
	app.Get("/console/approvals", append(consolePage, s.consoleApprovalStats)...)
	app.Get("/console/approvals.csv", append(consolePage, s.consoleApprovalStatsCSV)...)
	app.Get("/console/approvals/reminders", append(consolePage, s.consoleReminderPolicies)...)
	app.Post("/console/approvals/reminders", append(consoleChange, s.consoleSetReminderPolicy)...)
	app.Post("/console/approvals/reminders/:flow_code/delete", append(consoleChange, s.consoleDeleteReminderPolicy)...)
	app.Get("/console/approvals/integrations", consoleAdmin(consolePage, s.consoleIntegrations)...)
	app.Get("/console/approvals/integrations/:source/deliveries", consoleAdmin(consolePage, s.consoleDeliveries)...)
	app.Post("/console/approvals/integrations/:source/deliveries/:delivery_id/replay", consoleAdmin(consoleChange, s.consoleReplayDelivery)...)
	app.Post("/console/apps/:app_id/tracks/:platform/:channel/min-build", append(consoleChange, s.consoleSetMinBuild)...)
	app.Get("/console/apps/:app_id/channels/:channel", append(consolePage, s.consoleChannel)...)
	app.Post("/console/apps/:app_id/channels/:channel", append(consoleChange, s.consolePutChannel)...)
	app.Post("/console/apps/:app_id/channels/:channel/members", append(consoleChange, s.consoleInvite)...)
	app.Post("/console/apps/:app_id/channels/:channel/members/:user_id/remove", append(consoleChange, s.consoleRemoveMember)...)
	app.Get("/console/users", consoleAdmin(consolePage, s.consoleUsers)...)
	app.Post("/console/users/:user_id/status", consoleAdmin(consoleChange, s.consoleUserStatus)...)
	// The admins' user screens (console_users_handlers.go).
	app.Post("/console/users", consoleAdmin(consoleChange, s.consoleCreateUser)...)
	app.Post("/console/users/import", consoleAdmin([]fiber.Handler{s.consoleAuth, s.consoleUpload}, s.consoleImportUsers)...)
	app.Get("/console/users/:user_id", consoleAdmin(consolePage, s.consoleUser)...)
	app.Post("/console/users/:user_id/roles", consoleAdmin(consoleChange, s.consoleUserRoles)...)
	app.Post("/console/users/:user_id/password-reset", consoleAdmin(consoleChange, s.consoleResetPassword)...)
	app.Post("/console/users/:user_id/revoke-sessions", consoleAdmin(consoleChange, s.consoleRevokeSessions)...)
	app.Get("/console/audit", consoleAdmin(consolePage, s.consoleAudit)...)
	app.Get("/console/audit.csv", consoleAdmin(consolePage, s.consoleAuditCSV)...)
	// Announcements, banners and what's-new cards: role ops, as in the API (console_announce_*.go).
	opsPage := func(h fiber.Handler) []fiber.Handler { return []fiber.Handler{s.consoleAuth, s.consoleOps, h} }
	opsForm := func(h fiber.Handler) []fiber.Handler {
		return []fiber.Handler{s.consoleAuth, s.consoleChangeOrUpload, s.consoleOps, h}
	}
	app.Get("/console/announcements", opsPage(s.consoleAnnouncements)...)
	app.Post("/console/announcements", opsForm(s.consoleCreateAnnouncement)...)
	app.Get("/console/announcements/new", opsPage(s.consoleComposeForm)...)
	app.Post("/console/announcements/new", opsForm(s.consoleCompose)...)
	app.Post("/console/announcements/preview", opsForm(s.consolePreviewBody)...)
	app.Post("/console/announcements/images", opsForm(s.consoleInlineImage)...)
	app.Get("/console/announcements/:announcement_id", opsPage(s.consoleAnnouncement)...)
	app.Post("/console/announcements/:announcement_id/remind", opsForm(s.consoleRemindAnnouncement)...)
	app.Post("/console/announcements/:announcement_id/withdraw", opsForm(s.consoleWithdrawAnnouncement)...)
	app.Get("/console/announcements/:announcement_id/edit", opsPage(s.consoleEditAnnouncementForm)...)
	app.Post("/console/announcements/:announcement_id/edit", opsForm(s.consoleCompose)...)
	app.Post("/console/announcements/:announcement_id", opsForm(s.consoleUpdateAnnouncement)...)
	app.Get("/console/banners", opsPage(s.consoleBanners)...)
	app.Post("/console/banners", opsForm(s.consoleCreateBanner)...)
	app.Post("/console/banners/:banner_id", opsForm(s.consoleUpdateBanner)...)
	app.Post("/console/banners/:banner_id/delete", opsForm(s.consoleDeleteBanner)...)
	app.Get("/console/whats-new", opsPage(s.consoleWhatsNew)...)
	app.Post("/console/whats-new", opsForm(s.consoleCreateWhatsNew)...)
	app.Post("/console/whats-new/:card_id/delete", opsForm(s.consoleDeleteWhatsNew)...)
	app.Get("/console/", append(consolePage, s.consoleDashboard)...)

	// Resumable uploads (tus) at /v1/uploads/ for any signed-in user: POST creates an upload,
	// HEAD asks for its offset, PATCH appends, DELETE gives up, OPTIONS describes the server.
	// POST on an upload carries X-HTTP-Method-Override for clients that cannot send PATCH.
	if s.deps.Uploads != nil {
		tus := s.tus(s.deps.Uploads.Handler(HTTPProblems(s.log)))
		v1.Post("/uploads", authed, tus)
		v1.Options("/uploads", authed, tus)
		for _, method := range []string{fiber.MethodHead, fiber.MethodPatch, fiber.MethodDelete, fiber.MethodPost, fiber.MethodOptions} {
			v1.Add(method, "/uploads/:upload_id", authed, tus)
		}
	}

	// Training videos: ops manage them (the file is uploaded through /uploads with purpose
	// training_video); employees browse, play and download. Players fetch playlists without an
	// Authorization header: the credential is in the path, signed by the training service.
	if s.deps.Training != nil {
		v1.Get("/ops/training/videos", opsOrAdmin(s.listTrainingVideos)...)
		v1.Post("/ops/training/videos", opsOrAdmin(s.createTrainingVideo)...)
		v1.Get("/ops/training/videos/:video_id", opsOrAdmin(s.getTrainingVideo)...)
		v1.Patch("/ops/training/videos/:video_id", opsOrAdmin(s.updateTrainingVideo)...)
		v1.Delete("/ops/training/videos/:video_id", opsOrAdmin(s.deleteTrainingVideo)...)
		v1.Post("/ops/training/videos/:video_id/retry", opsOrAdmin(s.retryTrainingVideo)...)
		v1.Get("/ops/training/videos/:video_id/preview", opsOrAdmin(s.previewTrainingVideo)...)
		v1.Get("/ops/training/videos/:video_id/report", opsOrAdmin(s.trainingVideoCompletion)...)
		v1.Get("/ops/training/report", opsOrAdmin(s.trainingCompletion)...)
		v1.Get("/ops/training/report.csv", opsOrAdmin(s.trainingCompletionCSV)...)
		v1.Get("/training/videos", authed, s.trainingCatalogue)
		v1.Get("/training/videos/:video_id", authed, s.trainingVideo)
		v1.Post("/training/videos/:video_id/playback", authed, s.playTrainingVideo)
		v1.Get("/training/videos/:video_id/download", authed, s.downloadTrainingVideo)
		v1.Put("/training/videos/:video_id/progress", authed, s.reportTrainingProgress)
		v1.Get("/training/play/:video_id/:token/:playlist", s.trainingPlaylist)
		// The console's training screens (console_training_*.go), roles ops and admin as above.
		app.Get("/console/training", append(consolePage, s.consoleTraining)...)
		app.Post("/console/training/videos", append(consoleChange, s.consoleCreateTraining)...)
		app.Get("/console/training/videos/:video_id", append(consolePage, s.consoleTrainingVideo)...)
		app.Post("/console/training/videos/:video_id", append(consoleChange, s.consoleUpdateTraining)...)
		app.Post("/console/training/videos/:video_id/publish", append(consoleChange, s.consolePublishTraining)...)
		app.Post("/console/training/videos/:video_id/retry", append(consoleChange, s.consoleRetryTraining)...)
		app.Post("/console/training/videos/:video_id/delete", append(consoleChange, s.consoleDeleteTraining)...)
		app.Get("/console/training/videos/:video_id/report.csv", append(consolePage, s.consoleTrainingCSV)...)
		if s.deps.Uploads != nil {
			// The training page's uploads: the API's tus handler behind the console's cookie.
			tus := consoleTus(s.tus(s.deps.Uploads.Handler(HTTPProblems(s.log))))
			guard := []fiber.Handler{s.consoleAuth, s.consoleScriptChange, tus}
			app.Post(consoleUploadsPath, s.consoleAuth, s.consoleScriptChange, s.consoleAuditUpload, tus)
			for _, method := range []string{fiber.MethodHead, fiber.MethodPatch} {
				app.Add(method, consoleUploadsPath+"/:upload_id", guard...)
			}
		}
	}

	// Approvals: the OA posts signed events (the signature is the credential, not a session);
	// approvers list, read and decide their own tasks and name a delegate; admins manage the
	// integrations and their callback deliveries; ops read the statistics and set reminders.
	v1.Post("/integrations/:source/events", s.ingestEvent)
	v1.Get("/approvals", authed, s.listApprovals)
	v1.Get("/approvals/:task_id", authed, s.getApproval)
	v1.Post("/approvals/:task_id/decision", authed, s.decideApproval)
	v1.Get("/me/delegation", authed, s.getDelegation)
	v1.Put("/me/delegation", authed, s.setDelegation)
	v1.Delete("/me/delegation", authed, s.deleteDelegation)
	v1.Get("/admin/integrations", adminOnly(s.listIntegrations)...)
	v1.Post("/admin/integrations", adminOnly(s.createIntegration)...)
	v1.Get("/admin/integrations/:source", adminOnly(s.getIntegration)...)
	v1.Patch("/admin/integrations/:source", adminOnly(s.updateIntegration)...)
	v1.Delete("/admin/integrations/:source", adminOnly(s.deleteIntegration)...)
	v1.Post("/admin/integrations/:source/secrets", adminOnly(s.rotateSecret)...)
	v1.Delete("/admin/integrations/:source/secrets/:secret_id", adminOnly(s.revokeSecret)...)
	v1.Get("/admin/integrations/:source/deliveries", adminOnly(s.listDeliveries)...)
	v1.Post("/admin/integrations/:source/deliveries/:delivery_id/replay", adminOnly(s.replayDelivery)...)
	v1.Get("/ops/approvals/stats", opsOrAdmin(s.approvalStats)...)
	v1.Get("/ops/approvals/stats.csv", opsOrAdmin(s.approvalStatsCSV)...)
	v1.Get("/ops/approvals/reminder-policies", opsOrAdmin(s.listReminderPolicies)...)
	v1.Put("/ops/approvals/reminder-policies/:flow_code", opsOrAdmin(s.setReminderPolicy)...)
	v1.Delete("/ops/approvals/reminder-policies/:flow_code", opsOrAdmin(s.deleteReminderPolicy)...)

	// The operating numbers: an index of them, and the feedback loop (owned by feedback).
	v1.Get("/ops/metrics", opsOrAdmin(s.metricsIndex)...)
	v1.Get("/ops/metrics/feedback", opsOrAdmin(s.feedbackMetrics)...)
	v1.Get("/ops/metrics/announcements", opsOnly(s.announcementMetrics)...)
	// Usage analytics: any signed-in app sends its own events; ops and admins read the numbers.
	if s.deps.Analytics != nil {
		v1.Post("/events", authed, s.ingestEvents)
		v1.Get("/ops/metrics/active-users", opsOrAdmin(s.activeUsers)...)
		v1.Get("/ops/metrics/active-users.csv", opsOrAdmin(s.activeUsersCSV)...)
		v1.Get("/ops/metrics/active-users/breakdown", opsOrAdmin(s.activeUsersBreakdown)...)
		v1.Get("/ops/metrics/screens", opsOrAdmin(s.screenMetrics)...)
		v1.Get("/ops/metrics/adoption", opsOrAdmin(s.adoptionMetrics)...)
		v1.Get("/ops/metrics/adoption/releases", opsOrAdmin(s.releaseAdoption)...)
		v1.Get("/ops/metrics/adoption/releases.csv", opsOrAdmin(s.releaseAdoptionCSV)...)
		v1.Get("/ops/metrics/adoption/stuck", opsOrAdmin(s.stuckDevices)...)
		v1.Get("/ops/metrics/adoption/stuck/devices", opsOrAdmin(s.stuckDeviceList)...)
		v1.Get("/ops/metrics/activation", opsOrAdmin(s.activationMetrics)...)
	}

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
