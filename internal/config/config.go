// Package config loads mportal's typed configuration from MPORTAL_* environment variables.
// Defaults make `make run` work with nothing set; a bad value fails start-up with a message that
// names the variable and says what it expects.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Config is the whole effective configuration. It is loaded once in cmd and passed down.
type Config struct {
	ListenAddr    string     // MPORTAL_LISTEN_ADDR
	PublicBaseURL string     // MPORTAL_PUBLIC_BASE_URL: how clients reach us (links, manifests)
	DataDir       string     // MPORTAL_DATA_DIR: embedded DB, generated keys
	LogLevel      slog.Level // MPORTAL_LOG_LEVEL
	CORSOrigins   []string   // MPORTAL_CORS_ORIGINS, comma-separated; empty = no CORS
	// TrustedProxies (MPORTAL_TRUSTED_PROXIES, comma-separated addresses or CIDRs) are the load
	// balancers in front of mportal: a request from one is taken to come from the address its
	// X-Forwarded-For names (the login throttle, the access log). Empty = the peer's address.
	TrustedProxies []netip.Prefix
	BodyLimit      int           // MPORTAL_BODY_LIMIT bytes for JSON bodies
	ImportLimit    int           // MPORTAL_IMPORT_BODY_LIMIT bytes for CSV imports
	ReadTimeout    time.Duration // MPORTAL_READ_TIMEOUT
	WriteTimeout   time.Duration // MPORTAL_WRITE_TIMEOUT
	IdleTimeout    time.Duration // MPORTAL_IDLE_TIMEOUT
	ShutdownGrace  time.Duration // MPORTAL_SHUTDOWN_TIMEOUT: how long in-flight requests may finish
	// HeaderLimit (MPORTAL_HEADER_LIMIT) bounds the request line plus headers in bytes; a longer
	// request (a huge query string, say) answers 431 headers_too_large.
	HeaderLimit int
	// MetricsAddr (MPORTAL_METRICS_ADDR) is the host:port of the separate listener that serves
	// Prometheus metrics at /metrics; empty = metrics are not served. The API port never serves
	// them, so keep this address off the public ingress.
	MetricsAddr string
	// PprofAddr (MPORTAL_PPROF_ADDR) is a loopback host:port that serves Go's net/http/pprof
	// profiles at /debug/pprof/, for profiling the server under load; empty = not served. Only a
	// loopback address is accepted: profiles expose memory contents and cost CPU.
	PprofAddr string
	// DBSlowCommand (MPORTAL_DB_SLOW_COMMAND) logs, at warn level, every database command that
	// takes at least this long, with its collection and the shape of its filter (never a value);
	// 0 = off.
	DBSlowCommand time.Duration

	MongoURI      string // MPORTAL_MONGODB_URI; empty = embedded FerretDB under DataDir
	MongoDatabase string // MPORTAL_MONGODB_DATABASE

	MinIOEndpoint     string // MPORTAL_MINIO_ENDPOINT host:port
	MinIOAccessKey    string // MPORTAL_MINIO_ACCESS_KEY
	MinIOSecretKey    string // MPORTAL_MINIO_SECRET_KEY (secret)
	MinIOUseTLS       bool   // MPORTAL_MINIO_TLS
	MinIORegion       string // MPORTAL_MINIO_REGION
	MinIOBucketPrefix string // MPORTAL_MINIO_BUCKET_PREFIX
	// MinIOPublicEndpoint (MPORTAL_MINIO_PUBLIC_ENDPOINT) is the host phones use for presigned
	// URLs when it differs from the internal endpoint; empty = MinIOEndpoint.
	MinIOPublicEndpoint string

	JWTKeyFiles    []string      // MPORTAL_JWT_KEY_FILES: PEM Ed25519 private keys; the first signs
	JWTIssuer      string        // MPORTAL_JWT_ISSUER
	JWTAudience    string        // MPORTAL_JWT_AUDIENCE
	AccessTTL      time.Duration // MPORTAL_ACCESS_TOKEN_TTL
	RefreshTTL     time.Duration // MPORTAL_REFRESH_TOKEN_TTL
	SessionRecheck time.Duration // MPORTAL_SESSION_RECHECK: how stale a session's revocation, a disabled user or a role change may be seen
	// LoginConcurrency (MPORTAL_LOGIN_CONCURRENCY) is how many password verifications (argon2,
	// 19 MiB each) run at once; 0 = GOMAXPROCS, capped so that they need at most 256 MiB.
	LoginConcurrency int
	// LoginQueue (MPORTAL_LOGIN_QUEUE) is how many logins and password changes may wait for a
	// verification slot; beyond it they answer 503 unavailable with Retry-After.
	LoginQueue int

	FCMCredentialsFile string // MPORTAL_FCM_CREDENTIALS_FILE; empty = push off
	// FCMEndpoint (MPORTAL_FCM_ENDPOINT) replaces FCM's send endpoint, e.g. the fault rig's fake
	// FCM (cmd/chaos); empty = Google's.
	FCMEndpoint string
	// PushRetention (MPORTAL_PUSH_RETENTION) is how long a finished notification's records (the
	// key that keeps it from being sent twice, its collapse record, its dead letters) are kept.
	PushRetention time.Duration

	// TrainingMaxDuration (MPORTAL_TRAINING_MAX_DURATION) is the longest training video accepted.
	TrainingMaxDuration time.Duration
	// TrainingWorkers (MPORTAL_TRAINING_WORKERS) is how many videos one instance transcodes at
	// once (each ffmpeg uses every core, niced); 0 = no transcoding on this instance.
	TrainingWorkers int
	// TrainingReminders (MPORTAL_TRAINING_REMINDERS) are the reminders of a required training
	// video, as offsets from its due time, negative before it: "-48h,-8h,72h" by default.
	TrainingReminders []time.Duration

	// ApprovalDeliveryRetention (MPORTAL_APPROVAL_DELIVERY_RETENTION) is how long the callback
	// delivery log keeps an attempt to deliver a decision to its OA; older attempts are deleted.
	ApprovalDeliveryRetention time.Duration
	// ApprovalReminderInterval (MPORTAL_APPROVAL_REMINDER_INTERVAL) is how often each instance
	// makes its approval reminder pass (default 5m). A reminder is sent by the first pass after it
	// falls due, so this bounds its lateness; the fault rig shortens it to see reminders fall due
	// during its faults.
	ApprovalReminderInterval time.Duration

	AdminEmployeeNo string // MPORTAL_ADMIN_EMPLOYEE_NO: the seeded admin's login

	// AnalyticsKeyFile (MPORTAL_ANALYTICS_KEY_FILE) holds the key of the usage events' user
	// pseudonyms (64 hex digits); unset = generated under DataDir on first start. Replicas share it.
	AnalyticsKeyFile string
	// AnalyticsRetention (MPORTAL_ANALYTICS_RETENTION) is how long raw usage events are kept.
	AnalyticsRetention time.Duration
}

// Getenv looks up one variable; os.LookupEnv fits.
type Getenv func(key string) (string, bool)

// Load reads the configuration from getenv and validates it. The error lists every bad variable.
func Load(getenv Getenv) (*Config, error) {
	l := loader{getenv: getenv}
	c := &Config{
		ListenAddr:     l.str("MPORTAL_LISTEN_ADDR", "127.0.0.1:8080"),
		DataDir:        l.str("MPORTAL_DATA_DIR", "./data"),
		LogLevel:       l.level("MPORTAL_LOG_LEVEL", slog.LevelInfo),
		CORSOrigins:    l.list("MPORTAL_CORS_ORIGINS"),
		TrustedProxies: l.prefixes("MPORTAL_TRUSTED_PROXIES"),
		BodyLimit:      l.bytes("MPORTAL_BODY_LIMIT", 1<<20),
		ImportLimit:    l.bytes("MPORTAL_IMPORT_BODY_LIMIT", 8<<20),
		ReadTimeout:    l.duration("MPORTAL_READ_TIMEOUT", 30*time.Second),
		WriteTimeout:   l.duration("MPORTAL_WRITE_TIMEOUT", 30*time.Second),
		IdleTimeout:    l.duration("MPORTAL_IDLE_TIMEOUT", 120*time.Second),
		ShutdownGrace:  l.duration("MPORTAL_SHUTDOWN_TIMEOUT", 30*time.Second),
		HeaderLimit:    l.bytes("MPORTAL_HEADER_LIMIT", 8<<10),
		MetricsAddr:    l.str("MPORTAL_METRICS_ADDR", ""),
		PprofAddr:      l.str("MPORTAL_PPROF_ADDR", ""),
		DBSlowCommand:  l.duration("MPORTAL_DB_SLOW_COMMAND", 0),

		MongoURI:      l.str("MPORTAL_MONGODB_URI", ""),
		MongoDatabase: l.str("MPORTAL_MONGODB_DATABASE", "mportal"),

		MinIOEndpoint:       l.str("MPORTAL_MINIO_ENDPOINT", "127.0.0.1:9000"),
		MinIOAccessKey:      l.str("MPORTAL_MINIO_ACCESS_KEY", "minioadmin"),
		MinIOSecretKey:      l.str("MPORTAL_MINIO_SECRET_KEY", "minioadmin"),
		MinIOUseTLS:         l.boolean("MPORTAL_MINIO_TLS", false),
		MinIORegion:         l.str("MPORTAL_MINIO_REGION", "us-east-1"),
		MinIOBucketPrefix:   l.str("MPORTAL_MINIO_BUCKET_PREFIX", "mportal-"),
		MinIOPublicEndpoint: l.str("MPORTAL_MINIO_PUBLIC_ENDPOINT", ""),

		JWTKeyFiles:    l.list("MPORTAL_JWT_KEY_FILES"),
		JWTIssuer:      l.str("MPORTAL_JWT_ISSUER", "mportal"),
		JWTAudience:    l.str("MPORTAL_JWT_AUDIENCE", "mportal-app"),
		AccessTTL:      l.duration("MPORTAL_ACCESS_TOKEN_TTL", 15*time.Minute),
		RefreshTTL:     l.duration("MPORTAL_REFRESH_TOKEN_TTL", 30*24*time.Hour),
		SessionRecheck: l.duration("MPORTAL_SESSION_RECHECK", 30*time.Second),

		LoginConcurrency: l.integer("MPORTAL_LOGIN_CONCURRENCY", 0, 0, 1024),
		LoginQueue:       l.integer("MPORTAL_LOGIN_QUEUE", 64, 0, 100_000),

		FCMCredentialsFile: l.str("MPORTAL_FCM_CREDENTIALS_FILE", ""),
		FCMEndpoint:        l.str("MPORTAL_FCM_ENDPOINT", ""),
		PushRetention:      l.duration("MPORTAL_PUSH_RETENTION", 90*24*time.Hour),
		AdminEmployeeNo:    l.str("MPORTAL_ADMIN_EMPLOYEE_NO", "admin"),

		TrainingMaxDuration: l.duration("MPORTAL_TRAINING_MAX_DURATION", 15*time.Minute),
		TrainingWorkers:     l.integer("MPORTAL_TRAINING_WORKERS", 1, 0, 16),

		ApprovalDeliveryRetention: l.duration("MPORTAL_APPROVAL_DELIVERY_RETENTION", 30*24*time.Hour),
		ApprovalReminderInterval:  l.duration("MPORTAL_APPROVAL_REMINDER_INTERVAL", 5*time.Minute),
		TrainingReminders:         l.offsets("MPORTAL_TRAINING_REMINDERS", []time.Duration{-48 * time.Hour, -8 * time.Hour, 72 * time.Hour}),
		AnalyticsKeyFile:          l.str("MPORTAL_ANALYTICS_KEY_FILE", ""),
		AnalyticsRetention:        l.duration("MPORTAL_ANALYTICS_RETENTION", 90*24*time.Hour),
	}
	c.PublicBaseURL = strings.TrimRight(l.str("MPORTAL_PUBLIC_BASE_URL", "http://"+c.ListenAddr), "/")
	c.validate(&l)
	if len(l.errs) > 0 {
		return nil, fmt.Errorf("invalid configuration:\n  %w", errors.Join(l.errs...))
	}
	return c, nil
}

func (c *Config) validate(l *loader) {
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		l.fail("MPORTAL_LISTEN_ADDR", "expects host:port, e.g. 0.0.0.0:8080")
	}
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.fail("MPORTAL_PUBLIC_BASE_URL", "expects an absolute http(s) URL, e.g. https://portal.example.com")
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			l.fail("MPORTAL_METRICS_ADDR", "expects host:port for the metrics listener, e.g. 0.0.0.0:9090 (leave unset to serve no metrics)")
		} else if c.MetricsAddr == c.ListenAddr && port != "0" {
			l.fail("MPORTAL_METRICS_ADDR", "must differ from MPORTAL_LISTEN_ADDR: metrics are never served on the API port")
		}
	}
	if c.PprofAddr != "" {
		if host, _, err := net.SplitHostPort(c.PprofAddr); err != nil || !isLoopback(host) {
			l.fail("MPORTAL_PPROF_ADDR", "expects a loopback host:port for the profiling listener, e.g. 127.0.0.1:6060 (leave unset to serve no profiles)")
		}
	}
	if c.AnalyticsRetention < 31*24*time.Hour {
		l.fail("MPORTAL_ANALYTICS_RETENTION", "expects at least 744h (31 days): events are accepted up to 30 days late")
	}
	if c.HeaderLimit < 4<<10 || c.HeaderLimit > 1<<20 {
		l.fail("MPORTAL_HEADER_LIMIT", "expects a size between 4KiB and 1MiB")
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		l.fail("MPORTAL_MONGODB_URI", "expects a mongodb:// or mongodb+srv:// URI (leave unset for the embedded database)")
	}
	if c.MongoDatabase == "" || strings.ContainsAny(c.MongoDatabase, `/\. "$`) {
		l.fail("MPORTAL_MONGODB_DATABASE", "expects a database name without / \\ . \" $ or spaces")
	}
	if _, _, err := net.SplitHostPort(c.MinIOEndpoint); err != nil {
		l.fail("MPORTAL_MINIO_ENDPOINT", "expects host:port of the MinIO/S3 endpoint, without a scheme")
	}
	if c.MinIOAccessKey == "" || c.MinIOSecretKey == "" {
		l.fail("MPORTAL_MINIO_ACCESS_KEY/MPORTAL_MINIO_SECRET_KEY", "expect non-empty credentials")
	}
	if c.MinIOBucketPrefix != strings.ToLower(c.MinIOBucketPrefix) || len(c.MinIOBucketPrefix) > 40 {
		l.fail("MPORTAL_MINIO_BUCKET_PREFIX", "expects lower-case letters, digits and '-', at most 40 characters")
	}
	if c.AccessTTL < time.Minute || c.AccessTTL > time.Hour {
		l.fail("MPORTAL_ACCESS_TOKEN_TTL", "expects a duration between 1m and 1h")
	}
	if c.RefreshTTL < time.Hour {
		l.fail("MPORTAL_REFRESH_TOKEN_TTL", "expects a duration of at least 1h")
	}
	if c.ApprovalDeliveryRetention < time.Hour {
		// An attempt's lease is its timeout plus 30 s: a log kept less than an hour could lose an
		// attempt still in flight, and with it the claim that keeps it from being made twice.
		l.fail("MPORTAL_APPROVAL_DELIVERY_RETENTION", "expects a duration of at least 1h, e.g. 720h for 30 days")
	}
	if c.PushRetention < 7*24*time.Hour {
		// A notification is done once its last retry is; a week leaves any still in flight alone.
		l.fail("MPORTAL_PUSH_RETENTION", "expects a duration of at least 168h (7 days), e.g. 2160h for 90 days")
	}
	if c.ApprovalReminderInterval < time.Second || c.ApprovalReminderInterval > time.Hour {
		l.fail("MPORTAL_APPROVAL_REMINDER_INTERVAL", "expects a duration between 1s and 1h, e.g. 5m")
	}
	if c.SessionRecheck <= 0 || c.SessionRecheck > time.Minute {
		l.fail("MPORTAL_SESSION_RECHECK", "expects a duration between 1ns and 1m (revocations must bite within 60 s)")
	}
	if c.BodyLimit < 1024 || c.ImportLimit < 1024 {
		l.fail("MPORTAL_BODY_LIMIT/MPORTAL_IMPORT_BODY_LIMIT", "expect at least 1KiB")
	}
	if c.JWTIssuer == "" || c.JWTAudience == "" {
		l.fail("MPORTAL_JWT_ISSUER/MPORTAL_JWT_AUDIENCE", "expect non-empty strings")
	}
	if c.AdminEmployeeNo == "" {
		l.fail("MPORTAL_ADMIN_EMPLOYEE_NO", "expects a non-empty employee number")
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			l.fail("MPORTAL_CORS_ORIGINS", "expects comma-separated origins like https://app.example.com")
			break
		}
	}
}

// DefaultJWTKeyFile is where the signing key is generated when MPORTAL_JWT_KEY_FILES is unset.
func (c *Config) DefaultJWTKeyFile() string {
	return filepath.Join(c.DataDir, "keys", "jwt-signing.pem")
}

// DefaultAnalyticsKeyFile is where the pseudonym key is generated when MPORTAL_ANALYTICS_KEY_FILE
// is unset.
func (c *Config) DefaultAnalyticsKeyFile() string {
	return filepath.Join(c.DataDir, "keys", "analytics-pseudonym.key")
}

// EmbeddedDBDir is where the embedded FerretDB keeps its SQLite files.
func (c *Config) EmbeddedDBDir() string { return filepath.Join(c.DataDir, "db") }

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Warnings lists settings that work but are probably not what a deployment wants, for the
// server to log at start-up.
func (c Config) Warnings() []string {
	var out []string
	if u, err := url.Parse(c.PublicBaseURL); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		out = append(out, "MPORTAL_PUBLIC_BASE_URL is http://, so the console's and install pages' cookies are not "+
			"marked Secure and links and manifests use http; behind a TLS proxy, set it to the https:// address clients use")
	}
	return out
}
