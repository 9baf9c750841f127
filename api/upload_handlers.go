package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/upload"
)

// tus runs the net/http tus handler for the authenticated caller. The request body is the
// connection's stream (limitBody leaves it unread under /v1/uploads/), so a PATCH may carry any
// part of a file, however large, and tusd reads it as it arrives: its S3 store spools parts to
// disk and uploads them to MinIO while the rest comes in. Fiber's adaptor is not used: it reads
// the whole body into memory first.
func (s *Server) tus(h http.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		r, err := netHTTPRequest(c)
		if err != nil {
			return err
		}
		// fasthttp's context ends only at shutdown (and its Done races with Shutdown); tusd's
		// per-request goroutines wait for the request's context to end, so the request gets
		// its own, ended here.
		ctx, cancel := context.WithCancel(withProblemRoute(upload.WithPrincipal(c.UserContext(), principal(c)), c))
		defer cancel()
		w := &tusResponse{c: c, conn: c.Context().Conn(), status: http.StatusOK}
		h.ServeHTTP(w, r.WithContext(ctx))
		w.flush()
		// tusd answers most requests without a body; a HEAD's problem has no body either.
		if len(c.Response().Body()) == 0 || c.Method() == fiber.MethodHead {
			withoutBodyType(c)
		}
		return nil
	}
}

// netHTTPRequest converts the Fiber request for a net/http handler, with the streamed body.
func netHTTPRequest(c *fiber.Ctx) (*http.Request, error) {
	uri := string(c.Request().RequestURI())
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "the request URI is not valid")
	}
	r := &http.Request{
		Method:     c.Method(),
		URL:        u,
		RequestURI: uri,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Host:       string(c.Request().Host()),
		RemoteAddr: c.Context().RemoteAddr().String(),
		Body:       http.NoBody,
	}
	for k, v := range c.Request().Header.All() {
		if key := string(k); key == fiber.HeaderTransferEncoding {
			r.TransferEncoding = append(r.TransferEncoding, string(v))
		} else {
			r.Header.Add(key, string(v))
		}
	}
	if body, ok := c.Locals(localBody).(*streamedBody); ok {
		r.Body, r.ContentLength = io.NopCloser(body), body.size
	}
	return r, nil
}

// tusResponse is the net/http response writer of a tus request: headers and status are copied
// to Fiber's response when the handler returns; the (small) body is written to it directly.
// Its deadline methods reach the connection, so tusd's http.ResponseController extends the read
// deadline while a long PATCH keeps sending (tusd's NetworkTimeout) instead of the server's
// ReadTimeout cutting it off.
type tusResponse struct {
	c      *fiber.Ctx
	conn   net.Conn
	h      http.Header
	status int
	wrote  bool
}

func (w *tusResponse) Header() http.Header {
	if w.h == nil {
		w.h = make(http.Header)
	}
	return w.h
}

func (w *tusResponse) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
}

func (w *tusResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.c.Response().BodyWriter().Write(b)
}

// SetReadDeadline is called by tusd through http.ResponseController.
func (w *tusResponse) SetReadDeadline(t time.Time) error { return w.conn.SetReadDeadline(t) }

// SetWriteDeadline is called by tusd through http.ResponseController.
func (w *tusResponse) SetWriteDeadline(t time.Time) error { return w.conn.SetWriteDeadline(t) }

// flush copies the status and headers to Fiber's response.
func (w *tusResponse) flush() {
	w.c.Status(w.status)
	for k, vs := range w.h {
		for _, v := range vs {
			w.c.Response().Header.Add(k, v)
		}
	}
}
