package config

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	t.Run("works with nothing set", func(t *testing.T) {
		c, err := Load(env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.ListenAddr != "127.0.0.1:8080" || c.MongoURI != "" || c.AccessTTL != 15*time.Minute {
			t.Fatalf("unexpected defaults: %+v", c)
		}
		if c.MetricsAddr != "" || c.HeaderLimit != 8<<10 || c.LoginConcurrency != 0 || c.LoginQueue != 64 {
			t.Fatalf("unexpected hardening defaults: %+v", c)
		}
		if c.PublicBaseURL != "http://127.0.0.1:8080" {
			t.Fatalf("PublicBaseURL = %q", c.PublicBaseURL)
		}
	})
	t.Run("parses sizes, lists and durations", func(t *testing.T) {
		c, err := Load(env(map[string]string{
			"MPORTAL_BODY_LIMIT":       "2MiB",
			"MPORTAL_CORS_ORIGINS":     "https://a.example.com, https://b.example.com",
			"MPORTAL_ACCESS_TOKEN_TTL": "10m",
			"MPORTAL_JWT_KEY_FILES":    "/k/new.pem,/k/old.pem",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if c.BodyLimit != 2<<20 || len(c.CORSOrigins) != 2 || c.AccessTTL != 10*time.Minute || c.JWTKeyFiles[1] != "/k/old.pem" {
			t.Fatalf("got %+v", c)
		}
	})
	t.Run("parses trusted proxies, addresses and CIDRs", func(t *testing.T) {
		c, err := Load(env(map[string]string{"MPORTAL_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,2001:db8::/32, 10.1.2.3/16"}))
		if err != nil {
			t.Fatal(err)
		}
		want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
			netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("10.1.0.0/16")}
		if !slices.Equal(c.TrustedProxies, want) {
			t.Fatalf("trusted proxies %v, want %v", c.TrustedProxies, want)
		}
	})
	t.Run("parses training reminders, negative before the due time", func(t *testing.T) {
		c, err := Load(env(map[string]string{"MPORTAL_TRAINING_REMINDERS": "-24h, 0s,90m"}))
		if err != nil {
			t.Fatal(err)
		}
		if want := []time.Duration{-24 * time.Hour, 0, 90 * time.Minute}; !slices.Equal(c.TrainingReminders, want) {
			t.Fatalf("reminders %v, want %v", c.TrainingReminders, want)
		}
		if c, _ := Load(env(nil)); len(c.TrainingReminders) != 3 {
			t.Fatalf("default reminders %v", c.TrainingReminders)
		}
		if c, _ := Load(env(map[string]string{"MPORTAL_TRAINING_REMINDERS": "none"})); c.TrainingReminders == nil || len(c.TrainingReminders) != 0 {
			t.Fatalf("none gives %v", c.TrainingReminders)
		}
	})
	bad := []struct{ name, key, value string }{
		{"rejects a listen address without a port", "MPORTAL_LISTEN_ADDR", "localhost"},
		{"rejects a non-mongodb URI", "MPORTAL_MONGODB_URI", "postgres://x"},
		{"rejects a malformed duration", "MPORTAL_READ_TIMEOUT", "soon"},
		{"rejects a malformed size", "MPORTAL_BODY_LIMIT", "lots"},
		{"rejects a trusted proxy that is not an address", "MPORTAL_TRUSTED_PROXIES", "10.0.0.0/8,lb.internal"},
		{"rejects an unknown log level", "MPORTAL_LOG_LEVEL", "loud"},
		{"rejects a MinIO endpoint with a scheme", "MPORTAL_MINIO_ENDPOINT", "http://minio:9000"},
		{"rejects an access token TTL over an hour", "MPORTAL_ACCESS_TOKEN_TTL", "2h"},
		{"rejects a session recheck over 60s", "MPORTAL_SESSION_RECHECK", "5m"},
		{"rejects a relative public base URL", "MPORTAL_PUBLIC_BASE_URL", "portal.example.com"},
		{"rejects a CORS origin with a path", "MPORTAL_CORS_ORIGINS", "https://a.example.com/app"},
		{"rejects a non-boolean TLS flag", "MPORTAL_MINIO_TLS", "maybe"},
		{"rejects a metrics address without a port", "MPORTAL_METRICS_ADDR", "metrics"},
		{"rejects metrics on the API address", "MPORTAL_METRICS_ADDR", "127.0.0.1:8080"},
		{"rejects a profiling address off loopback", "MPORTAL_PPROF_ADDR", "0.0.0.0:6060"},
		{"rejects a profiling address without a port", "MPORTAL_PPROF_ADDR", "127.0.0.1"},
		{"rejects a header limit under 4KiB", "MPORTAL_HEADER_LIMIT", "1KiB"},
		{"rejects a negative login concurrency", "MPORTAL_LOGIN_CONCURRENCY", "-1"},
		{"rejects a login queue that is not a number", "MPORTAL_LOGIN_QUEUE", "many"},
		{"rejects a delivery log retention under an hour", "MPORTAL_APPROVAL_DELIVERY_RETENTION", "30m"},
		{"rejects a push retention under a week", "MPORTAL_PUSH_RETENTION", "24h"},
		{"rejects an approval reminder pass interval under a second", "MPORTAL_APPROVAL_REMINDER_INTERVAL", "100ms"},
		{"rejects training reminders out of order", "MPORTAL_TRAINING_REMINDERS", "72h,-48h"},
		{"rejects a training reminder that is not a duration", "MPORTAL_TRAINING_REMINDERS", "-2d"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(map[string]string{tc.key: tc.value}))
			if err == nil || !strings.Contains(err.Error(), strings.Split(tc.key, "/")[0]) {
				t.Fatalf("error %v does not name %s", err, tc.key)
			}
		})
	}
	t.Run("lists every bad variable at once", func(t *testing.T) {
		_, err := Load(env(map[string]string{"MPORTAL_LOG_LEVEL": "x", "MPORTAL_BODY_LIMIT": "y"}))
		if err == nil || !strings.Contains(err.Error(), "MPORTAL_LOG_LEVEL") || !strings.Contains(err.Error(), "MPORTAL_BODY_LIMIT") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestWriteMasked(t *testing.T) {
	c, err := Load(env(map[string]string{
		"MPORTAL_MONGODB_URI": "mongodb://app:s3cr3t-pw@db:27017/?replicaSet=rs0&tls=true&tlsCertificateKeyFilePassword=keypass-1" +
			"&authMechanismProperties=AWS_SESSION_TOKEN:sess-tok-2&proxyPassword=proxy-pw-3",
		"MPORTAL_MINIO_SECRET_KEY": "minio-super-secret",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.WriteMasked(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, secret := range []string{"s3cr3t-pw", "minio-super-secret", "keypass-1", "sess-tok-2", "proxy-pw-3"} {
		if strings.Contains(out, secret) {
			t.Errorf("masked output contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "mongodb://app:********@db:27017/?replicaSet=rs0&tls=true&tlsCertificateKeyFilePassword=********") {
		t.Errorf("URI not masked as expected:\n%s", out)
	}
}

func TestWarnings(t *testing.T) {
	for base, want := range map[string]int{
		"":                                   0, // the default: http on the listen address (loopback in make run)
		"http://127.0.0.1:8080":              0,
		"http://localhost:8080":              0,
		"https://portal.example.com":         0,
		"http://portal.example.com":          1, // behind a TLS proxy, cookies would not be Secure
		"http://10.0.0.5:8080/mportal-base/": 1,
	} {
		vars := map[string]string{"MPORTAL_LISTEN_ADDR": "127.0.0.1:8080"}
		if base != "" {
			vars["MPORTAL_PUBLIC_BASE_URL"] = base
		}
		c, err := Load(env(vars))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Warnings(); len(got) != want {
			t.Errorf("%q: warnings %q, want %d", base, got, want)
		}
	}
}
