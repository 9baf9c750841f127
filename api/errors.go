package api

import (
	"errors"

	"math"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
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
	apperr.TooLarge:             http.StatusRequestEntityTooLarge,
	apperr.HeadersTooLarge:      http.StatusRequestHeaderFieldsTooLarge,
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
	http.StatusRequestTimeout:              apperr.Unavailable,
	http.StatusBadRequest:                  apperr.Invalid,
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

// problemFor turns any error into a problem document and says whether it was unexpected (a 500
// that must be logged). Unknown errors never reach the client: they get a generic message.
func problemFor(err error) (Problem, *apperr.Error, bool) {
	e, ok := apperr.As(err)
	if !ok {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			if code, known := fiberCodes[fe.Code]; known {
				e = &apperr.Error{Code: code, Message: fiberMessage(fe)}
				ok = true
			}
		}
	}
	if !ok {
		e = &apperr.Error{Code: apperr.Internal, Message: "an internal error occurred; it has been logged"}
	}
	status := statusOf[e.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	return Problem{
		Type:   "urn:mportal:problem:" + string(e.Code),
		Title:  http.StatusText(status),
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
	if unexpected {
		s.log.Error("request failed", "request_id", p.RequestID, "method", c.Method(), "route", routeOf(c), "error", err.Error())
	} else if e.Code == apperr.Unavailable {
		s.log.Warn("dependency unavailable", "request_id", p.RequestID, "route", routeOf(c), "error", err.Error())
	}
	if e.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if c.Method() == fiber.MethodHead {
		c.Status(p.Status)
		withoutBodyType(c)
		return nil
	}
	return c.Status(p.Status).JSON(p, "application/problem+json")
}

// withoutBodyType drops the Content-Type of an error answer to HEAD: it has no body, and a
// problem+json type would announce a document that is not there.
func withoutBodyType(c *fiber.Ctx) {
	c.Response().Header.Del(fiber.HeaderContentType)
	c.Response().Header.SetNoDefaultContentType(true)
}
