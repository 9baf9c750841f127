package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	"github.com/tus/tusd/v2/pkg/s3store"
	expslog "golang.org/x/exp/slog"

	"github.com/mportal/mportal/media"
)

// ObjectPrefix is the key prefix, inside the Uploads bucket, of every object the tus store
// writes: the upload itself ("tus/<id>") and tusd's bookkeeping ("tus/<id>.info", "tus/<id>.part").
const ObjectPrefix = "tus"

// DefaultPartSize is the preferred S3 part size. S3 (and MinIO) need parts of at least 5 MiB
// except the last one; tusd buffers a part on disk, never in memory, before sending it.
const DefaultPartSize = 8 << 20

// minPartSize is the smallest part S3 accepts. Smaller PATCH chunks are kept by tusd as an
// incomplete-part object and joined with the next chunk.
const minPartSize = 5 << 20

// New builds the service and its tus handler. It makes no network call.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil || cfg.DB == nil:
		return nil, errors.New("upload: Store and DB are required")
	case cfg.S3.Endpoint == "" || cfg.S3.Bucket == "":
		return nil, errors.New("upload: the S3 endpoint and bucket are required")
	case cfg.BasePath == "":
		return nil, errors.New("upload: BasePath is required")
	}
	base, err := url.Parse(cfg.BasePath)
	if err != nil || !strings.HasSuffix(base.Path, "/") || (base.IsAbs() && base.Host == "") {
		return nil, fmt.Errorf("upload: BasePath %q must be a path or an absolute URL ending in /", cfg.BasePath)
	}
	s := &Service{
		cfg:      cfg,
		path:     strings.TrimSuffix(base.Path, "/"),
		log:      cfg.Logger,
		now:      cfg.Now,
		purposes: map[string]Purpose{},
		owners:   newOwnerCache(ownerCacheSize),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.records = &records{coll: cfg.DB.Collection("uploads")}
	s.store = newS3Store(cfg)

	// The composer gets the core, termination and a locker, and deliberately neither
	// concatenation (a final upload could name another user's partial uploads) nor deferred
	// lengths (the size limit is checked when the upload is created).
	composer := tusd.NewStoreComposer()
	composer.UseCore(s.store)
	composer.UseTerminater(s.store)
	// One process serves an upload at a time (see the README on replicas); the in-memory locker
	// keeps two requests of one upload from interleaving.
	s.locker = memorylocker.New()
	composer.UseLocker(s.locker)
	h, err := tusd.NewUnroutedHandler(tusd.Config{
		StoreComposer:   composer,
		BasePath:        cfg.BasePath,
		DisableDownload: true, // objects are served through the domains' presigned URLs
		// Behind a TLS-terminating proxy the Location of a new upload must say https and the
		// public host; a client that forges these headers only misdirects its own upload.
		RespectForwardedHeaders:    true,
		Cors:                       &tusd.CorsConfig{Disable: true},
		Logger:                     expslog.New(tusLogger{h: s.log.Handler()}),
		PreUploadCreateCallback:    s.preCreate,
		PreFinishResponseCallback:  s.preFinish,
		PreUploadTerminateCallback: s.preTerminate,
		AcquireLockTimeout:         10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("upload: tus handler: %w", err)
	}
	s.handler = h
	return s, nil
}

// newS3Store points tusd's S3 store at MinIO: path-style addressing, static credentials, the
// configured region.
func newS3Store(cfg Config) s3store.S3Store {
	scheme := "http://"
	if cfg.S3.UseTLS {
		scheme = "https://"
	}
	region := cfg.S3.Region
	if region == "" {
		region = media.DefaultRegion
	}
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(scheme + cfg.S3.Endpoint),
		UsePathStyle: true,
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.S3.AccessKey, cfg.S3.SecretKey, ""),
		// MinIO verifies the classic Content-MD5/SHA-256 the store sends; the SDK's newer
		// default trailing checksums add nothing here.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		// Over plain HTTP the SDK reads every spooled part once more to hash it (SHA-256) for
		// the signature before sending it, and the PATCH waits for that; with an unsigned
		// payload the part is sent as it is read (BenchmarkUpload1GiB). The request stays
		// signed; the body's integrity rests on TCP, as from the app to the server.
		APIOptions: []func(*middleware.Stack) error{v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware},
	})
	store := s3store.New(cfg.S3.Bucket, detachedS3{c: client})
	store.ObjectPrefix = ObjectPrefix
	store.TemporaryDirectory = cfg.TempDir
	part := cfg.PartSize
	if part <= 0 {
		part = DefaultPartSize
	}
	// Every part but the last has the same size: MinIO's multipart uploads (and S3-compatible
	// stores that require equal parts) take them, and tusd joins smaller PATCH chunks in an
	// incomplete-part object until a whole part is there.
	part = max(part, minPartSize)
	store.MinPartSize = part
	store.PreferredPartSize = part
	// Each PATCH buffers at most this many parts on disk while one is sent to S3.
	store.MaxBufferedParts = 4
	return store
}

// tusLogger adapts mportal's log/slog handler to the golang.org/x/exp/slog logger tusd takes. It
// passes tusd's warnings and errors on and drops its per-request info lines, which the API's
// access log already covers.
type tusLogger struct {
	h     slog.Handler
	attrs []slog.Attr
}

func (t tusLogger) Enabled(ctx context.Context, l expslog.Level) bool {
	return l >= expslog.LevelWarn && t.h.Enabled(ctx, slog.Level(l))
}

func (t tusLogger) Handle(ctx context.Context, r expslog.Record) error {
	level := slog.Level(r.Level)
	if r.Message == "BodyReadError" {
		// A phone losing its network mid-chunk is routine for a resumable upload.
		level = slog.LevelInfo
		if !t.h.Enabled(ctx, level) {
			return nil
		}
	}
	rec := slog.NewRecord(r.Time, level, "tusd: "+r.Message, r.PC)
	rec.AddAttrs(t.attrs...)
	r.Attrs(func(a expslog.Attr) bool {
		rec.AddAttrs(slog.Any(a.Key, a.Value.Any()))
		return true
	})
	return t.h.Handle(ctx, rec)
}

func (t tusLogger) WithAttrs(as []expslog.Attr) expslog.Handler {
	next := t
	next.attrs = slices.Clone(t.attrs)
	for _, a := range as {
		next.attrs = append(next.attrs, slog.Any(a.Key, a.Value.Any()))
	}
	return next
}

// WithGroup is not used by tusd; attributes stay flat.
func (t tusLogger) WithGroup(string) expslog.Handler { return t }
