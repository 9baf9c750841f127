package media

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mportal/mportal/internal/apperr"
)

// DefaultRegion is used when MinIOConfig.Region is empty. MinIO accepts any region; setting
// one explicitly spares minio-go a GetBucketLocation round trip before requests and presigning.
const DefaultRegion = "us-east-1"

// pingTimeout bounds Ping: a readiness probe must answer quickly, and minio-go otherwise
// retries an unreachable server for a long time.
const pingTimeout = 3 * time.Second

// MinIOConfig configures the connection to MinIO or another S3-compatible server.
type MinIOConfig struct {
	// Endpoint is host:port of the server as mportal reaches it, without a scheme.
	Endpoint  string
	AccessKey string
	SecretKey string
	// UseTLS selects https for Endpoint (and for PublicEndpoint when it has no scheme).
	UseTLS bool
	// Region defaults to DefaultRegion.
	Region string
	// BucketPrefix is prepended to every Bucket to form the real bucket name ("mportal-").
	BucketPrefix string
	// PublicEndpoint, when set, is the address the apps reach the server through (a public host
	// or a reverse proxy in front of MinIO) and is used only for presigned URLs. A presigned
	// signature covers the Host header, so URLs must be signed for the host the apps send; the
	// proxy must forward that Host unchanged. Either host[:port] (scheme from UseTLS) or an
	// http(s) URL with no path. Empty means presigned URLs point at Endpoint.
	PublicEndpoint string
}

// MinIO is the Store backed by minio-go. It is safe for concurrent use.
type MinIO struct {
	client *minio.Client
	core   minio.Core    // the same client; Core.GetObject surfaces errors at the call, not on first Read
	signer *minio.Client // presigns URLs for PublicEndpoint; the main client when that is empty
	prefix string
	region string
}

var _ Store = (*MinIO)(nil)

// NewMinIO creates the clients. It makes no network call (so cmd can start while MinIO is
// still coming up); EnsureBuckets and Ping do.
func NewMinIO(ctx context.Context, cfg MinIOConfig) (*MinIO, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Endpoint == "" || strings.Contains(cfg.Endpoint, "://") {
		return nil, fmt.Errorf("media: MinIO endpoint %q must be host:port without a scheme", cfg.Endpoint)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	client, err := newClient(cfg.Endpoint, cfg.UseTLS, cfg)
	if err != nil {
		return nil, err
	}
	m := &MinIO{client: client, core: minio.Core{Client: client}, signer: client,
		prefix: cfg.BucketPrefix, region: cfg.Region}
	if cfg.PublicEndpoint != "" {
		host, secure, err := parsePublicEndpoint(cfg.PublicEndpoint, cfg.UseTLS)
		if err != nil {
			return nil, err
		}
		if m.signer, err = newClient(host, secure, cfg); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func newClient(endpoint string, secure bool, cfg MinIOConfig) (*minio.Client, error) {
	client, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: secure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("media: MinIO client for %s: %w", endpoint, err)
	}
	return client, nil
}

// parsePublicEndpoint accepts host[:port] or an http(s) URL without a path.
func parsePublicEndpoint(s string, useTLS bool) (host string, secure bool, err error) {
	if !strings.Contains(s, "://") {
		return s, useTLS, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("media: public endpoint %q must be host[:port] or an http(s) URL without a path", s)
	}
	return u.Host, u.Scheme == "https", nil
}

// bucketName returns the real bucket name of b.
func (m *MinIO) bucketName(b Bucket) string { return m.prefix + string(b) }

// BucketName returns the real name of b (the configured prefix followed by b), for code that
// talks to the storage server with another S3 client (tusd's S3 store in internal/upload).
func (m *MinIO) BucketName(b Bucket) string { return m.bucketName(b) }

// EnsureBuckets creates every fixed bucket that does not exist yet and makes sure each one is
// private: a bucket policy is the only way S3 grants anonymous access, so any policy found is
// removed and the removal verified. It is idempotent and safe to run from several replicas
// at once.
func (m *MinIO) EnsureBuckets(ctx context.Context) (err error) {
	defer apperr.Wrapf(&err, "media: ensure buckets")
	for _, b := range Buckets() {
		name := m.bucketName(b)
		exists, err := m.client.BucketExists(ctx, name)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", name, translate(err))
		}
		if !exists {
			err := m.client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: m.region})
			if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
				return fmt.Errorf("create bucket %s: %w", name, translate(err))
			}
		}
		if err := m.makePrivate(ctx, name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}

func (m *MinIO) makePrivate(ctx context.Context, name string) error {
	policy, err := m.client.GetBucketPolicy(ctx, name)
	if err != nil {
		return translate(err)
	}
	if policy == "" {
		return nil
	}
	if err := m.client.SetBucketPolicy(ctx, name, ""); err != nil { // "" deletes the policy
		return fmt.Errorf("remove bucket policy: %w", translate(err))
	}
	if policy, err = m.client.GetBucketPolicy(ctx, name); err != nil {
		return translate(err)
	}
	if policy != "" {
		return errors.New("bucket policy is still set after removing it")
	}
	return nil
}

// Ping reports whether the storage server answers and the buckets exist, for /readyz. Any
// failure (no answer within a few seconds, rejected credentials, missing buckets) means
// mportal cannot serve files, so it returns code unavailable with the cause in Err.
func (m *MinIO) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	name := m.bucketName(Artifacts)
	exists, err := m.client.BucketExists(ctx, name)
	if err != nil {
		return apperr.Wrap(err, apperr.Unavailable, "object storage is unavailable")
	}
	if !exists {
		return apperr.Wrap(fmt.Errorf("bucket %s does not exist", name), apperr.Unavailable, "object storage is not set up")
	}
	return nil
}
