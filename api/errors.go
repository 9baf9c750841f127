// This file is the API's one error mapping: every error code becomes an HTTP status here and
// nowhere else, for the Fiber handlers (errorHandler), the tus endpoint, which is a net/http
// handler (HTTPProblems, handed to upload.Service.Handler), and the install page's HTML answers
// (renderLogin takes its status from problemFor). See README.md, "One error mapping".

package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/upload"
)

// statusOf is the one mapping from error codes to HTTP statuses.
var statusOf = map[apperr.Code]int{
	apperr.Invalid:              http.StatusBadRequest,
	apperr.InvalidJSON:          http.StatusBadRequest,
	apperr.Unauthorized:         http.StatusUnauthorized,
	apperr.Forbidden:            http.StatusForbidden,
	apperr.PasswordChangeNeeded: http.StatusForbidden,
	apperr.NotFound:             http.StatusNotFound,
	apperr.Conflict:             http.StatusConflict,
	apperr.AlreadyDecided:       http.StatusConflict,
	apperr.TaskClosed:           http.StatusConflict,
	apperr.UnknownApprovers:     http.StatusUnprocessableEntity,
	apperr.IdempotencyKeyReused: http.StatusUnprocessableEntity,
	apperr.TooLarge:             http.StatusRequestEntityTooLarge,
	apperr.HeadersTooLarge:      http.StatusRequestHeaderFieldsTooLarge,
	apperr.RequestTimeout:       http.StatusRequestTimeout,
	apperr.UnsupportedMedia:     http.StatusUnsupportedMediaType,
	apperr.RateLimited:          http.StatusTooManyRequests,
	apperr.Unavailable:          http.StatusServiceUnavailable,
	apperr.Internal:             http.StatusInternalServerError,
}

// fiberCodes maps the errors Fiber and fasthttp raise themselves (routing, limits) to our codes.
var fiberCodes = map[int]apperr.Code{
	http.StatusNotFound:              apperr.NotFound,
	http.StatusMethodNotAllowed:      apperr.NotFound,
	http.StatusRequestEntityTooLarge: apperr.TooLarge,
	// fasthttp could not fit the request line and headers in MPORTAL_HEADER_LIMIT bytes (a long
	// query string counts): the client's mistake, not a server error.
	http.StatusRequestHeaderFieldsTooLarge: apperr.HeadersTooLarge,
	http.StatusUnsupportedMediaType:        apperr.UnsupportedMedia,
	// The client did not send its request within MPORTAL_READ_TIMEOUT: its side, not ours (it
	// was a 503 "unavailable", logged as a dependency down, for every slow or idle client).
	http.StatusRequestTimeout: apperr.RequestTimeout,
	http.StatusBadRequest:     apperr.Invalid,
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	Instance  string `json:"instance"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Data is the error's structured detail (apperr.Error.Data), for the few codes that have one.
	Data any `json:"data,omitempty"`
}

// tusCode is what an error tusd raises itself means here: our code and, for a malformed request
// header, the header's name.
type tusCode struct {
	code  apperr.Code
	field string
}

// tusCodes maps the errors tusd raises itself (its "ERR_..." codes) to ours. Their statuses are
// the ones the tus protocol prescribes (412 for Tus-Resumable, 423 for a locked upload, 460 for a
// checksum) and tus clients act on them, so a tusd error keeps tusd's status; only the code, the
// field and the document are ours.
var tusCodes = map[string]tusCode{
	"ERR_UPLOAD_NOT_FOUND":            {apperr.NotFound, ""},
	"ERR_MISMATCHED_OFFSET":           {apperr.Conflict, "Upload-Offset"},
	"ERR_UPLOAD_LOCKED":               {apperr.Conflict, ""},
	"ERR_MAX_SIZE_EXCEEDED":           {apperr.TooLarge, "Upload-Length"},
	"ERR_UPLOAD_SIZE_EXCEEDED":        {apperr.TooLarge, ""},
	"ERR_SERVER_SHUTDOWN":             {apperr.Unavailable, ""},
	"ERR_LOCK_TIMEOUT":                {apperr.Unavailable, ""},
	"ERR_UNSUPPORTED_VERSION":         {apperr.Invalid, "Tus-Resumable"},
	"ERR_INVALID_CONTENT_TYPE":        {apperr.Invalid, "Content-Type"},
	"ERR_INVALID_UPLOAD_LENGTH":       {apperr.Invalid, "Upload-Length"},
	"ERR_INVALID_OFFSET":              {apperr.Invalid, "Upload-Offset"},
	"ERR_AMBIGUOUS_UPLOAD_LENGTH":     {apperr.Invalid, "Upload-Defer-Length"},
	"ERR_INVALID_UPLOAD_LENGTH_DEFER": {apperr.Invalid, "Upload-Defer-Length"},
	"ERR_INVALID_CONCAT":              {apperr.Invalid, "Upload-Concat"},
}

// internalMessage replaces the text of unexpected errors, which may quote a dependency.
const internalMessage = "an internal error occurred; it has been logged"

// tusError reads an error tusd answered with itself. Codes it knows keep tusd's message (which
// names no dependency); server errors get a message that reveals nothing, since tusd words
// them from the storage's error.
func tusError(te tusd.Error) *apperr.Error {
	status := te.HTTPResponse.StatusCode
	if te.ErrorCode == "ERR_LOCK_TIMEOUT" { // tusd answers it 500; it is a wait, not a fault
		return &apperr.Error{Code: apperr.Unavailable, Message: "another request is working on this upload; retry in a moment", Err: te}
	}
	if c, ok := tusCodes[te.ErrorCode]; ok && status < http.StatusInternalServerError {
		return &apperr.Error{Code: c.code, Message: te.Message, Field: c.field, Err: te}
	}
	e := &apperr.Error{Code: apperr.Invalid, Message: te.Message, Err: te}
	switch {
	case status == http.StatusNotFound:
		e.Code, e.Message = apperr.NotFound, "upload not found"
	case status == http.StatusConflict:
		e.Code, e.Message = apperr.Conflict, "the upload offset does not match; ask for it with HEAD"
	case status == http.StatusRequestEntityTooLarge:
		e.Code, e.Message = apperr.TooLarge, "the upload is larger than allowed"
	case status == http.StatusServiceUnavailable:
		e.Code, e.Message = apperr.Unavailable, "the server is busy or shutting down; retry later"
	case status >= http.StatusInternalServerError:
		e.Code, e.Message = apperr.Internal, internalMessage
	case e.Message == "":
		e.Message = http.StatusText(status)
	}
	return e
}

// problemFor turns any error into a problem document and says whether it was unexpected (a 500
// that must be logged). Unknown errors never reach the client: they get a generic message.
func problemFor(err error) (Problem, *apperr.Error, bool) {
	status := 0
	e, ok := apperr.As(err)
	if !ok {
		var fe *fiber.Error
		var te tusd.Error
		switch {
		case errors.As(err, &fe):
			if code, known := fiberCodes[fe.Code]; known {
				e = &apperr.Error{Code: code, Message: fiberMessage(fe)}
				ok = true
			}
		case errors.As(err, &te) && te.HTTPResponse.StatusCode >= http.StatusBadRequest:
			e, status = tusError(te), te.HTTPResponse.StatusCode
			ok = e.Code != apperr.Internal
			if e.Code == apperr.Unavailable {
				status = http.StatusServiceUnavailable
			}
		}
	}
	if !ok && e == nil {
		e = &apperr.Error{Code: apperr.Internal, Message: internalMessage}
	}
	if status == 0 {
		status = statusOf[e.Code]
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	title := http.StatusText(status)
	if title == "" {
		title = "Error" // tus's 460 Checksum Mismatch has no text in net/http
	}
	return Problem{
		Type:   "urn:mportal:problem:" + string(e.Code),
		Title:  title,
		Status: status,
		Detail: e.Message,
		Code:   string(e.Code),
		Field:  e.Field,
		Data:   e.Data,
	}, e, !ok || e.Code == apperr.Internal
}

func fiberMessage(fe *fiber.Error) string {
	switch fe.Code {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return "no such endpoint"
	case http.StatusRequestEntityTooLarge:
		return "the request body is too large"
	case http.StatusRequestHeaderFieldsTooLarge:
		return "the request line and headers are too long (a query parameter or path segment may be oversized)"
	default:
		return http.StatusText(fe.Code)
	}
}

// errorHandler is Fiber's error handler: the only place errors become HTTP responses.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	p, e, unexpected := problemFor(err)
	p.Instance = c.Path()
	p.RequestID = requestID(c)
	logProblem(s.log, p, e, unexpected, c.Method(), routeOf(c), err)
	if wait := retryAfter(e); wait > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(wait))
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if c.Method() == fiber.MethodHead {
		c.Status(p.Status)
		withoutBodyType(c)
		return nil
	}
	if s.consoleErrorPage(c, p) {
		return nil
	}
	return c.Status(p.Status).JSON(p, "application/problem+json")
}

// problemRoute carries the route template and request id of a request that a net/http handler
// serves, for HTTPProblems.
type problemRoute struct{ route, requestID string }

type problemRouteKey struct{}

// withProblemRoute returns ctx carrying c's route and request id for HTTPProblems.
func withProblemRoute(ctx context.Context, c *fiber.Ctx) context.Context {
	return context.WithValue(ctx, problemRouteKey{}, problemRoute{route: routeOf(c), requestID: requestID(c)})
}

// HTTPProblems returns errorHandler for net/http handlers (the tus endpoint, which the API mounts
// through its streaming conversion in upload_handlers.go and the upload package's tests serve
// directly): the same mapping, document, headers and logging, written to a net/http response.
// Headers the handler set already (Tus-Resumable, WWW-Authenticate) are kept.
func HTTPProblems(log *slog.Logger) upload.ProblemWriter {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		writeHTTPProblem(log, w, r, err)
	}
}

func writeHTTPProblem(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	rt, _ := r.Context().Value(problemRouteKey{}).(problemRoute)
	p, e, unexpected := problemFor(err)
	p.Instance = r.URL.Path
	p.RequestID = rt.requestID
	logProblem(log, p, e, unexpected, r.Method, rt.route, err)
	h := w.Header()
	if wait := retryAfter(e); wait > 0 {
		h.Set(fiber.HeaderRetryAfter, strconv.Itoa(wait))
	}
	h.Set(fiber.HeaderCacheControl, "no-store")
	h.Set(fiber.HeaderContentType, "application/problem+json")
	if r.Method == http.MethodHead {
		h.Del(fiber.HeaderContentLength)
		w.WriteHeader(p.Status)
		return
	}
	body, _ := json.Marshal(p)
	h.Set(fiber.HeaderContentLength, strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

// logProblem logs an unexpected error (with its real text, which the client never sees) and a
// dependency's unavailability.
func logProblem(log *slog.Logger, p Problem, e *apperr.Error, unexpected bool, method, route string, err error) {
	if unexpected {
		log.Error("request failed", "request_id", p.RequestID, "method", method, "route", route, "error", err.Error())
	} else if e.Code == apperr.Unavailable {
		log.Warn("dependency unavailable", "request_id", p.RequestID, "route", route, "error", err.Error())
	}
}

// unavailableRetryAfter is the Retry-After of an unavailability that names no wait of its own
// (object storage down, tusd shutting down): every 503 tells the client when to come back.
const unavailableRetryAfter = 5 * time.Second

// retryAfter is e's Retry-After in whole seconds, rounded up; 0 means none.
func retryAfter(e *apperr.Error) int {
	if e.RetryAfter <= 0 && e.Code == apperr.Unavailable {
		return int(unavailableRetryAfter / time.Second)
	}
	if e.RetryAfter <= 0 {
		return 0
	}
	return int(math.Ceil(e.RetryAfter.Seconds()))
}

// withoutBodyType drops the Content-Type of an error answer to HEAD: it has no body, and a
// problem+json type would announce a document that is not there.
func withoutBodyType(c *fiber.Ctx) {
	c.Response().Header.Del(fiber.HeaderContentType)
	c.Response().Header.SetNoDefaultContentType(true)
}
