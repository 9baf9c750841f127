package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/mportal/mportal/internal/apperr"
)

// statusOf gives the status of the errors this package and its purposes return. tus clients act
// on statuses (404: start over, 409: ask for the offset again, 413/415: give up), and the
// mapping agrees with api/errors.go, which the rest of the API uses.
var statusOf = map[apperr.Code]int{
	apperr.Invalid:          http.StatusBadRequest,
	apperr.Unauthorized:     http.StatusUnauthorized,
	apperr.Forbidden:        http.StatusForbidden,
	apperr.NotFound:         http.StatusNotFound,
	apperr.Conflict:         http.StatusConflict,
	apperr.TooLarge:         http.StatusRequestEntityTooLarge,
	apperr.UnsupportedMedia: http.StatusUnsupportedMediaType,
	apperr.RateLimited:      http.StatusTooManyRequests,
	apperr.Unavailable:      http.StatusServiceUnavailable,
	apperr.Internal:         http.StatusInternalServerError,
}

// tusCodes maps tusd's own error codes to mportal's; tusd's status is kept as it is.
var tusCodes = map[string]apperr.Code{
	"ERR_UPLOAD_NOT_FOUND":     apperr.NotFound,
	"ERR_MISMATCHED_OFFSET":    apperr.Conflict,
	"ERR_UPLOAD_LOCKED":        apperr.Conflict,
	"ERR_MAX_SIZE_EXCEEDED":    apperr.TooLarge,
	"ERR_UPLOAD_SIZE_EXCEEDED": apperr.TooLarge,
	"ERR_SERVER_SHUTDOWN":      apperr.Unavailable,
	"ERR_LOCK_TIMEOUT":         apperr.Unavailable,
	"ERR_UNSUPPORTED_VERSION":  apperr.Invalid,
}

// internalMessage replaces the text of unexpected errors, which may quote a dependency.
const internalMessage = "an internal error occurred; it has been logged"

// tusError turns an error from this package or a purpose into the error tusd sends. Its body
// ("code: message") is rewritten into a problem document by problemWriter.
func (s *Service) tusError(ctx context.Context, err error) error {
	e, ok := apperr.As(err)
	if !ok || e.Code == apperr.Internal {
		s.log.Error("upload failed", "request_id", requestIDFrom(ctx), "error", err.Error())
		e = apperr.New(apperr.Internal, internalMessage)
	}
	status := statusOf[e.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	return tusd.NewError(string(e.Code), e.Message, status)
}

// problem is the RFC 9457 document of api/errors.go.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	Instance  string `json:"instance"`
	RequestID string `json:"request_id,omitempty"`
}

// problemWriter lets success responses through and turns every error response, tusd's plain
// text ones included, into a problem document, so tus clients get the statuses the protocol
// prescribes and the apps get the same error format as everywhere else.
type problemWriter struct {
	http.ResponseWriter
	r      *http.Request
	status int // an error status held back until finish; 0 otherwise
	body   bytes.Buffer
}

// Unwrap lets tusd's http.ResponseController reach the connection (read deadlines).
func (w *problemWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *problemWriter) WriteHeader(status int) {
	if status >= http.StatusBadRequest {
		w.status = status
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *problemWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		return w.ResponseWriter.Write(b)
	}
	if w.body.Len() < 4096 {
		w.body.Write(b[:min(len(b), 4096-w.body.Len())])
	}
	return len(b), nil
}

// fail sends err as a problem at once; the tus handler is not involved.
func (w *problemWriter) fail(s *Service, err error) {
	var te tusd.Error
	errors.As(s.tusError(w.r.Context(), err), &te)
	w.status = te.HTTPResponse.StatusCode
	w.body.Reset()
	w.body.WriteString(te.HTTPResponse.Body)
	w.finish()
}

// finish writes the held-back error, if any, as a problem document.
func (w *problemWriter) finish() {
	if w.status == 0 {
		return
	}
	status := w.status
	w.status = 0
	code, detail := parseTusBody(w.body.String(), status)
	p := problem{
		Type: "urn:mportal:problem:" + string(code), Title: http.StatusText(status), Status: status,
		Detail: detail, Code: string(code), Instance: w.r.URL.Path, RequestID: requestIDFrom(w.r.Context()),
	}
	if p.Title == "" {
		p.Title = "Error"
	}
	body, _ := json.Marshal(p)
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if w.r.Method == http.MethodHead {
		h.Del("Content-Length")
		w.ResponseWriter.WriteHeader(status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.ResponseWriter.WriteHeader(status)
	_, _ = w.ResponseWriter.Write(body)
}

// parseTusBody reads tusd's "CODE: message" error body. Codes that are mportal's (from hooks)
// keep their message; tusd's codes are mapped; anything else gets a code from the status and,
// for server errors, a message that reveals nothing.
func parseTusBody(body string, status int) (apperr.Code, string) {
	raw, msg, _ := strings.Cut(strings.TrimSpace(body), ": ")
	if _, ours := statusOf[apperr.Code(raw)]; ours {
		return apperr.Code(raw), msg
	}
	if code, ok := tusCodes[raw]; ok && status < http.StatusInternalServerError {
		return code, msg
	}
	switch {
	case status == http.StatusNotFound:
		return apperr.NotFound, "upload not found"
	case status == http.StatusConflict:
		return apperr.Conflict, "the upload offset does not match; ask for it with HEAD"
	case status == http.StatusRequestEntityTooLarge:
		return apperr.TooLarge, "the upload is larger than allowed"
	case status == http.StatusServiceUnavailable:
		return apperr.Unavailable, "the server is busy or shutting down; retry later"
	case status >= http.StatusInternalServerError:
		return apperr.Internal, internalMessage
	case msg == "":
		return apperr.Invalid, http.StatusText(status)
	}
	return apperr.Invalid, msg
}
