// Package upload receives resumable uploads from the apps over the tus protocol (tus.io, v1.0.0)
// and stores them in the media Uploads bucket through tusd's S3 store. It is generic: domain
// packages Register a Purpose ("feedback_attachment", later training videos) that says how large
// an upload may be, which content types it may have, who may upload, and what to do with the
// finished object.
//
// A client creates an upload with POST /v1/uploads/ (Upload-Length and Upload-Metadata with
// purpose, filetype, filename and the purpose's own keys), sends the bytes with PATCH, asks for
// the offset with HEAD after an interruption and resumes from there, or gives up with DELETE.
// Each upload belongs to the user who created it: anyone else gets 404 on every method.
//
// This package decides no HTTP status. The tus handler is a net/http handler, so it cannot return
// its errors to Fiber's error handler; instead Handler takes the API's mapping as a ProblemWriter
// and hands it every error: the *apperr.Error a hook or a purpose failed with (kept whole, so its
// field survives tusd's plain-text error path) and the tusd.Error tusd answered with itself. The
// status table, the tusd codes and the problem document thus stay in api/errors.go alone, which
// no package below api may import; a table here would drift from it, as one did.
package upload

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/s3store"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
)

// Purpose describes one kind of upload. Domain packages register their purposes at start-up.
type Purpose struct {
	// Name is the value of the "purpose" metadata key that selects this purpose.
	Name string
	// MaxSize is the largest Upload-Length accepted; a larger one is refused with too_large (413)
	// before anything is stored.
	MaxSize int64
	// ContentTypes are the allowed media types ("image/jpeg"). The declared "filetype" metadata
	// must be one of them, and so must the type sniffed from the first 512 bytes of the finished
	// object (http.DetectContentType); either mismatch is unsupported_media_type (415).
	ContentTypes []string
	// Roles, when set, are the roles one of which the uploader must hold, checked before
	// Authorize at creation and again on every PATCH with the uploader's current roles, so that
	// someone who loses the role mid-upload cannot finish it (a 2 GiB training video takes a
	// while). Empty: any signed-in user.
	Roles []auth.Role
	// Authorize checks, before anything is stored, that p may upload for meta (for example that
	// the feedback attachment record named in meta exists and is p's). It returns not_found,
	// forbidden or invalid errors (*apperr.Error), which the client receives as problems.
	Authorize func(ctx context.Context, p *auth.Principal, meta map[string]string) error
	// Complete is called once the upload has finished and passed the type check; it links the
	// object to its domain record. It must be idempotent: after a crash or a failed call it is
	// called again (with a Principal that carries only the uploader's UserID and Roles). When it
	// refuses the content for good (unsupported_media_type or invalid: not the photo it should
	// be, not the declared size), the upload is deleted like one of a wrong type; any other
	// error leaves it for the cleanup worker to complete again.
	Complete func(ctx context.Context, p *auth.Principal, in Info) error
	// Reject, when set, is called when a finished upload fails the type check, before it is
	// deleted, with the reason the client is given, so that the domain can mark its record
	// failed instead of leaving it waiting. in.ContentType is the sniffed type. It must be
	// idempotent: when it fails, the upload is checked and rejected again later.
	Reject func(ctx context.Context, p *auth.Principal, in Info, reason string) error
}

// Info describes a finished upload and where its object is.
type Info struct {
	// ID is the tus upload id (the last segment of the upload URL).
	ID string
	// Purpose is the Purpose.Name the upload was created for.
	Purpose string
	// UserID is the uploader: always the authenticated creator, never a client-supplied value.
	UserID string
	// ContentType is the sniffed media type, which is also one of the declared allowed types.
	ContentType string
	// Filename is the client's file name (metadata "filename"), sanitized; it may be empty.
	Filename string
	// Size is the object's size in bytes.
	Size int64
	// Bucket and Key locate the object in the media store (the object tusd's S3 store wrote,
	// "tus/<object id>"); the object stays there, nothing is copied.
	Bucket media.Bucket
	Key    string
	// Meta is the upload's metadata as stored, including purpose, filetype, filename and user_id.
	Meta map[string]string
}

// S3Config says how tusd's S3 store reaches the object storage; it mirrors the MPORTAL_MINIO_*
// settings.
type S3Config struct {
	Endpoint  string // host:port, no scheme
	AccessKey string
	SecretKey string
	UseTLS    bool
	Region    string
	// Bucket is the real name of the media Uploads bucket (prefix included).
	Bucket string
}

// Config configures a Service.
type Config struct {
	// Store reads and deletes finished objects (type sniffing, rejected uploads).
	Store media.Store
	// S3 is where tusd's S3 store writes.
	S3 S3Config
	// DB holds the uploads bookkeeping collection.
	DB *mongodb.DB
	// BasePath is where the handler is mounted, with a trailing slash: a path ("/v1/uploads/")
	// or an absolute URL ("https://portal.example.com/v1/uploads/"), which the Location of new
	// uploads then starts with (a path makes tusd guess the scheme and host from the request).
	BasePath string
	// TempDir holds the parts the S3 store buffers on disk; empty means os.TempDir().
	TempDir string
	// PartSize is the preferred S3 part size; 0 means DefaultPartSize. Tests lower it.
	PartSize int64
	// Logger receives tusd's warnings and errors and failures of unexpected kinds; nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means the wall clock.
	Now clock.Func
	// MaxOpen bounds one user's unfinished uploads; 0 means DefaultMaxOpen.
	MaxOpen int
}

// DefaultMaxOpen is how many unfinished uploads one user may have. A phone sends a few at a
// time, even with a week of offline photos queued; without a bound, one user could hold
// thousands (each up to its purpose's size, for the 24 hours before cleanup).
const DefaultMaxOpen = 100

func (c Config) maxOpen() int {
	if c.MaxOpen > 0 {
		return c.MaxOpen
	}
	return DefaultMaxOpen
}

// Service receives tus uploads. Create it with New; it is safe for concurrent use.
type Service struct {
	cfg      Config
	path     string // the path of BasePath, without its trailing slash
	log      *slog.Logger
	now      clock.Func
	records  *records
	store    s3store.S3Store // tusd's store, also used by the cleanup worker and rejections
	handler  *tusd.UnroutedHandler
	locker   tusd.Locker
	owners   *ownerCache
	mu       sync.RWMutex
	purposes map[string]Purpose
}

// Register adds a purpose. Registering a name twice replaces the earlier purpose. A purpose
// without Name, MaxSize, ContentTypes, Authorize or Complete is a programming error and panics.
func (s *Service) Register(p Purpose) {
	if p.Name == "" || p.MaxSize <= 0 || len(p.ContentTypes) == 0 || p.Authorize == nil || p.Complete == nil {
		panic(fmt.Sprintf("upload: purpose %q is incomplete", p.Name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purposes[p.Name] = p
}

// purpose returns the registered purpose called name.
func (s *Service) purpose(name string) (Purpose, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.purposes[name]
	return p, ok
}
