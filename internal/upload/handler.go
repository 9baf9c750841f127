package upload

import (
	"context"
	"net/http"
	"strings"

	"github.com/mportal/mportal/internal/apperr"
)

// Handler returns the tus endpoint, to be mounted at Config.BasePath: POST creates an upload,
// HEAD returns its offset, PATCH appends, DELETE terminates, OPTIONS describes the server. The
// caller must be in the request context (WithPrincipal); without one every request is 401.
// HEAD, PATCH and DELETE of an upload someone else created are 404. Every error is answered by
// problems, the API's one error mapping, with the error this package, a purpose or tusd failed
// with (see ProblemWriter).
func (s *Service) Handler(problems ProblemWriter) http.Handler {
	routed := s.handler.Middleware(http.HandlerFunc(s.route))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := &failure{}
		r = r.WithContext(context.WithValue(r.Context(), failureKey{}, f))
		pw := &problemWriter{ResponseWriter: w, r: r, problems: problems, failure: f}
		defer pw.finish()
		if principalFrom(r.Context()) == nil {
			pw.Header().Set("WWW-Authenticate", `Bearer realm="mportal"`)
			pw.fail(apperr.New(apperr.Unauthorized, "a bearer access token is required"))
			return
		}
		routed.ServeHTTP(pw, r)
	})
}

// route dispatches after tusd's middleware has checked the protocol version and applied
// X-HTTP-Method-Override, so the ownership check sees the method tusd will act on.
func (s *Service) route(w http.ResponseWriter, r *http.Request) {
	pw := w.(*problemWriter)
	id, ok := strings.CutPrefix(r.URL.Path, s.path)
	if !ok {
		pw.fail(apperr.New(apperr.NotFound, "no such endpoint"))
		return
	}
	id = strings.TrimPrefix(id, "/")
	switch {
	case id == "" && r.Method == http.MethodPost:
		// Neither extension is offered: the size limit is checked at creation, and a final
		// upload could concatenate other users' partial uploads.
		if r.Header.Get("Upload-Defer-Length") != "" || r.Header.Get("Upload-Concat") != "" {
			pw.fail(apperr.Field("Upload-Length", "declare Upload-Length; deferred lengths and concatenation are not supported"))
			return
		}
		s.handler.PostFile(w, r)
	case id == "" || strings.Contains(id, "/"):
		pw.fail(apperr.New(apperr.NotFound, "no such endpoint"))
	default:
		purpose, err := s.authorizeUpload(r.Context(), principalFrom(r.Context()), id)
		if err != nil {
			pw.fail(err)
			return
		}
		// tusd's unrouted handlers take the upload id from a path with the base path removed.
		r = withPath(r, id)
		switch r.Method {
		case http.MethodHead:
			// Not the request's context: tusd's request context is its own per-request state,
			// which HeadFile writes to while the finish's lock may still watch it.
			ctx, cancel := context.WithTimeout(context.Background(), finishOnHeadTimeout)
			err := s.finishIfAllIn(ctx, id)
			cancel()
			if err != nil {
				pw.fail(err)
				return
			}
			s.handler.HeadFile(w, r)
		case http.MethodPatch:
			// Declaring the length on a PATCH belongs to deferred lengths, which are not
			// offered: tusd answered it 501, an internal error to the client.
			if r.Header.Get("Upload-Length") != "" {
				pw.fail(apperr.Field("Upload-Length", "the length is declared at creation; send Upload-Length with the POST only"))
				return
			}
			// The role the upload was created with may be gone (a demoted ops user): writing,
			// and finishing, needs it now. HEAD and DELETE stay the owner's.
			if err := purpose.allows(principalFrom(r.Context())); err != nil {
				pw.fail(err)
				return
			}
			s.handler.PatchFile(w, r)
		case http.MethodDelete:
			s.handler.DelFile(w, r)
			if pw.status == 0 { // deleted: no longer one of the user's unfinished uploads
				if err := s.records.setStatus(r.Context(), objectIDOf(id), statusAbandoned, s.now.Stored()); err != nil {
					s.log.Warn("upload: deleted, but still counted as unfinished until cleanup", "upload", id, "error", err)
				}
			}
		default:
			pw.fail(apperr.New(apperr.NotFound, "no such endpoint"))
		}
	}
}

// withPath returns a shallow copy of r whose URL path is path.
func withPath(r *http.Request, path string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = path, ""
	r2.URL = &u
	return r2
}
