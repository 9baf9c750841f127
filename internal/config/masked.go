package config

import (
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

const mask = "********"

// WriteMasked prints the effective configuration as KEY=value lines with every secret masked
// (the MinIO secret key, passwords inside the MongoDB URI). Like gitea's ToShadowCopy, it is the
// only way the config is ever printed or logged.
func (c *Config) WriteMasked(w io.Writer) error {
	secret := func(s string) string {
		if s == "" {
			return ""
		}
		return mask
	}
	fcm := c.FCMCredentialsFile
	if fcm == "" {
		fcm = "(unset: push notifications off)"
	}
	mongoURI := MaskURI(c.MongoURI)
	if mongoURI == "" {
		mongoURI = "(unset: embedded FerretDB in " + c.EmbeddedDBDir() + ")"
	}
	keys := strings.Join(c.JWTKeyFiles, ",")
	if keys == "" {
		keys = "(unset: generated at " + c.DefaultJWTKeyFile() + ")"
	}
	analyticsKey := c.AnalyticsKeyFile
	if analyticsKey == "" {
		analyticsKey = "(unset: generated at " + c.DefaultAnalyticsKeyFile() + ")"
	}
	metrics := c.MetricsAddr
	if metrics == "" {
		metrics = "(unset: metrics not served)"
	}
	pprof := c.PprofAddr
	if pprof == "" {
		pprof = "(unset: profiles not served)"
	}
	loginConcurrency := fmt.Sprint(c.LoginConcurrency)
	if c.LoginConcurrency == 0 {
		loginConcurrency = "0 (GOMAXPROCS, at most 256 MiB of argon2 memory)"
	}
	rows := [][2]string{
		{"MPORTAL_LISTEN_ADDR", c.ListenAddr},
		{"MPORTAL_PUBLIC_BASE_URL", c.PublicBaseURL},
		{"MPORTAL_DATA_DIR", c.DataDir},
		{"MPORTAL_LOG_LEVEL", strings.ToLower(c.LogLevel.String())},
		{"MPORTAL_CORS_ORIGINS", strings.Join(c.CORSOrigins, ",")},
		{"MPORTAL_TRUSTED_PROXIES", joinPrefixes(c.TrustedProxies)},
		{"MPORTAL_BODY_LIMIT", fmt.Sprint(c.BodyLimit)},
		{"MPORTAL_IMPORT_BODY_LIMIT", fmt.Sprint(c.ImportLimit)},
		{"MPORTAL_READ_TIMEOUT", c.ReadTimeout.String()},
		{"MPORTAL_WRITE_TIMEOUT", c.WriteTimeout.String()},
		{"MPORTAL_IDLE_TIMEOUT", c.IdleTimeout.String()},
		{"MPORTAL_SHUTDOWN_TIMEOUT", c.ShutdownGrace.String()},
		{"MPORTAL_HEADER_LIMIT", fmt.Sprint(c.HeaderLimit)},
		{"MPORTAL_METRICS_ADDR", metrics},
		{"MPORTAL_PPROF_ADDR", pprof},
		{"MPORTAL_DB_SLOW_COMMAND", c.DBSlowCommand.String()},
		{"MPORTAL_MONGODB_URI", mongoURI},
		{"MPORTAL_MONGODB_DATABASE", c.MongoDatabase},
		{"MPORTAL_MINIO_ENDPOINT", c.MinIOEndpoint},
		{"MPORTAL_MINIO_ACCESS_KEY", c.MinIOAccessKey},
		{"MPORTAL_MINIO_SECRET_KEY", secret(c.MinIOSecretKey)},
		{"MPORTAL_MINIO_TLS", fmt.Sprint(c.MinIOUseTLS)},
		{"MPORTAL_MINIO_REGION", c.MinIORegion},
		{"MPORTAL_MINIO_BUCKET_PREFIX", c.MinIOBucketPrefix},
		{"MPORTAL_MINIO_PUBLIC_ENDPOINT", c.MinIOPublicEndpoint},
		{"MPORTAL_JWT_KEY_FILES", keys},
		{"MPORTAL_JWT_ISSUER", c.JWTIssuer},
		{"MPORTAL_JWT_AUDIENCE", c.JWTAudience},
		{"MPORTAL_ACCESS_TOKEN_TTL", c.AccessTTL.String()},
		{"MPORTAL_REFRESH_TOKEN_TTL", c.RefreshTTL.String()},
		{"MPORTAL_SESSION_RECHECK", c.SessionRecheck.String()},
		{"MPORTAL_TRAINING_MAX_DURATION", c.TrainingMaxDuration.String()},
		{"MPORTAL_TRAINING_WORKERS", fmt.Sprint(c.TrainingWorkers)},
		{"MPORTAL_APPROVAL_DELIVERY_RETENTION", c.ApprovalDeliveryRetention.String()},
		{"MPORTAL_APPROVAL_REMINDER_INTERVAL", c.ApprovalReminderInterval.String()},
		{"MPORTAL_TRAINING_REMINDERS", offsets(c.TrainingReminders)},
		{"MPORTAL_LOGIN_CONCURRENCY", loginConcurrency},
		{"MPORTAL_LOGIN_QUEUE", fmt.Sprint(c.LoginQueue)},
		{"MPORTAL_FCM_CREDENTIALS_FILE", fcm},
		{"MPORTAL_PUSH_RETENTION", c.PushRetention.String()},
		{"MPORTAL_ADMIN_EMPLOYEE_NO", c.AdminEmployeeNo},
		{"MPORTAL_ANALYTICS_KEY_FILE", analyticsKey},
		{"MPORTAL_ANALYTICS_RETENTION", c.AnalyticsRetention.String()},
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%s=%s\n", r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

// MaskURI hides the secrets in a connection URI, for logs and `mportal config`: the password,
// and the values of the options that may hold one (tlsCertificateKeyFilePassword,
// authMechanismProperties with an AWS session token, proxyPassword, ...).
func MaskURI(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return mask // unparseable: print nothing of it, it may hold a password
	}
	u.RawQuery = maskQuery(u.RawQuery)
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
		return strings.Replace(u.String(), "xxxxx", mask, 1)
	}
	return u.String()
}

// secretOptions are parts of the names (lower case) of URI options whose values are masked.
var secretOptions = []string{"password", "secret", "token", "key", "authmechanismproperties"}

// maskQuery masks the values of the secret options in a raw query, keeping its order and the
// other options as written.
func maskQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if unescaped, err := url.QueryUnescape(name); err == nil {
			name = unescaped
		}
		lower := strings.ToLower(name)
		if slices.ContainsFunc(secretOptions, func(s string) bool { return strings.Contains(lower, s) }) {
			parts[i] = url.QueryEscape(name) + "=" + mask
		}
	}
	return strings.Join(parts, "&")
}

// offsets writes reminder offsets as MPORTAL_TRAINING_REMINDERS takes them.
func offsets(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

func joinPrefixes(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ",")
}
