package upload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"mime"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// Metadata keys with a meaning here. Everything else in Upload-Metadata belongs to the purpose.
const (
	metaPurpose  = "purpose"
	metaFiletype = "filetype"
	metaFilename = "filename"
	metaUserID   = "user_id" // set by the server from the principal, never taken from a client
)

// Metadata limits: S3 stores it in the object's headers, which are limited to a few KiB.
const (
	maxMetaKeys     = 16
	maxMetaBytes    = 1024
	maxFilenameSize = 255
)

// preTerminate runs on a DELETE under the upload's lock, before tusd removes anything: only an
// upload still arriving may be deleted. A finished upload's object is the file its purpose
// points at (a feedback photo, a training video's source; nothing is copied), and deleting it
// left the attachment "complete" with links that answer 404, past the purpose's own rules on
// deletion (feedback that ops are handling cannot be deleted).
func (s *Service) preTerminate(hook tusd.HookEvent) (tusd.HTTPResponse, error) {
	info := hook.Upload
	if info.SizeIsDeferred || info.Offset < info.Size {
		rec, err := s.records.get(hook.Context, objectIDOf(info.ID))
		if err != nil {
			return tusd.HTTPResponse{}, s.tusError(hook.Context, err)
		}
		if rec.Status == statusUploading {
			return tusd.HTTPResponse{}, nil
		}
	}
	return tusd.HTTPResponse{}, s.tusError(hook.Context, apperr.New(apperr.Conflict,
		"the upload is finished: delete what it is attached to instead"))
}

// preCreate runs before tusd stores anything: it checks the caller, the purpose, the size and
// the declared type, lets the purpose authorize, records the owner, and fixes the metadata
// (user_id is always the caller's).
func (s *Service) preCreate(hook tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	fail := func(err error) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.tusError(hook.Context, err)
	}
	p := principalFrom(hook.Context)
	if p == nil {
		return fail(apperr.New(apperr.Unauthorized, "authentication required"))
	}
	ctx, stop := detach(hook.Context)
	defer stop()
	meta, purpose, err := s.checkCreate(ctx, p, hook.Upload)
	if err != nil {
		return fail(err)
	}
	if err := s.checkOpen(ctx, p.UserID); err != nil {
		return fail(err)
	}
	id := newObjectID()
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	rec := record{ID: id, UserID: p.UserID, Roles: roles, Purpose: purpose.Name, Status: statusUploading,
		CreatedAt: s.now.Stored()}
	if err := s.records.insert(ctx, rec); err != nil {
		return fail(err)
	}
	s.owners.put(id, owner{userID: p.UserID, purpose: purpose.Name})
	return tusd.HTTPResponse{}, tusd.FileInfoChanges{ID: id, MetaData: meta}, nil
}

// openRetry is the Retry-After of a creation refused for too many unfinished uploads: by then
// the phone has likely finished some.
const openRetry = time.Minute

// checkOpen refuses a new upload of userID while the user has Config.MaxOpen unfinished ones
// (429, Retry-After). Count and insert are not one step, so parallel creations may pass the
// bound by as many as run at once: it bounds a user's storage, it is not an exact quota.
func (s *Service) checkOpen(ctx context.Context, userID string) error {
	n, err := s.records.open(ctx, userID)
	if err != nil {
		return err
	}
	if n >= int64(s.cfg.maxOpen()) {
		return &apperr.Error{Code: apperr.RateLimited, RetryAfter: openRetry,
			Message: fmt.Sprintf("you have %d unfinished uploads; finish or delete some before starting another", n)}
	}
	return nil
}

// checkCreate validates a new upload and returns the metadata to store.
func (s *Service) checkCreate(ctx context.Context, p *auth.Principal, fi tusd.FileInfo) (tusd.MetaData, Purpose, error) {
	meta := maps.Clone(fi.MetaData)
	if meta == nil {
		meta = tusd.MetaData{}
	}
	delete(meta, metaUserID)
	purpose, ok := s.purpose(meta[metaPurpose])
	switch {
	case !ok:
		return nil, Purpose{}, apperr.Field("Upload-Metadata", "purpose is missing or not a known upload purpose")
	case fi.SizeIsDeferred || fi.IsPartial || fi.IsFinal:
		return nil, Purpose{}, apperr.Field("Upload-Length", "declare the upload's length when creating it")
	case fi.Size <= 0:
		return nil, Purpose{}, apperr.Field("Upload-Length", "an empty file cannot be uploaded")
	case fi.Size > purpose.MaxSize:
		return nil, Purpose{}, &apperr.Error{Code: apperr.TooLarge, Field: "Upload-Length",
			Message: fmt.Sprintf("a %s upload may be at most %d bytes", purpose.Name, purpose.MaxSize)}
	case len(meta) > maxMetaKeys || metaSize(meta) > maxMetaBytes:
		return nil, Purpose{}, apperr.Field("Upload-Metadata", "metadata may have at most %d keys and %d bytes", maxMetaKeys, maxMetaBytes)
	}
	filetype, err := normalizeType(meta[metaFiletype])
	if err != nil || !slices.Contains(purpose.ContentTypes, filetype) {
		return nil, Purpose{}, &apperr.Error{Code: apperr.UnsupportedMedia, Field: "Upload-Metadata",
			Message: fmt.Sprintf("filetype must be one of %s for a %s upload", strings.Join(purpose.ContentTypes, ", "), purpose.Name)}
	}
	meta[metaFiletype] = filetype
	if name := sanitizeFilename(meta[metaFilename]); name != "" {
		meta[metaFilename] = name
	} else {
		delete(meta, metaFilename)
	}
	if err := purpose.allows(p); err != nil {
		return nil, Purpose{}, err
	}
	if err := purpose.Authorize(ctx, p, maps.Clone(meta)); err != nil {
		return nil, Purpose{}, err
	}
	meta[metaUserID] = p.UserID
	return meta, purpose, nil
}

func metaSize(meta tusd.MetaData) int {
	n := 0
	for k, v := range meta {
		n += len(k) + len(v)
	}
	return n
}

// normalizeType returns the lower-case media type without parameters.
func normalizeType(t string) (string, error) {
	mt, _, err := mime.ParseMediaType(t)
	return strings.ToLower(mt), err
}

// sanitizeFilename keeps the last path element of a client's file name, without control
// characters, at most maxFilenameSize bytes of valid UTF-8.
func sanitizeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if name == "." || name == "/" || name == ".." {
		return ""
	}
	for len(name) > maxFilenameSize {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return strings.TrimSpace(name)
}

// newObjectID returns a random 128-bit id for the object key "tus/<id>".
func newObjectID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// preFinish runs in the request that delivered the last byte, after tusd assembled the object
// and before the response: the client's final PATCH fails if the type is wrong or Complete fails.
func (s *Service) preFinish(hook tusd.HookEvent) (tusd.HTTPResponse, error) {
	ctx := hook.Context
	p := principalFrom(ctx)
	if p == nil { // authorizeUpload ran before tusd; this cannot happen through Handler
		return tusd.HTTPResponse{}, s.tusError(ctx, apperr.New(apperr.Unauthorized, "authentication required"))
	}
	dctx, stop := detach(ctx)
	defer stop()
	if err := s.finish(dctx, p, hook.Upload); err != nil {
		return tusd.HTTPResponse{}, s.tusError(ctx, err)
	}
	return tusd.HTTPResponse{}, nil
}
