package api

import (
	"errors"
	"io"
	"net"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
)

// Request bodies are streamed (fiber.Config.StreamRequestBody): fasthttp hands a handler the
// connection's reader instead of reading the body first, so that a tus PATCH can carry a whole
// file and tusd uploads its parts to MinIO while the next bytes arrive, in bounded memory. Every
// other route keeps the server-wide limit: limitBody reads its body into memory, at most
// the limit, before the route runs, and refuses a larger one with 413 too_large.

// uploadsPath is where the tus endpoint is mounted; requests under it keep their streamed body.
const uploadsPath = "/v1/uploads"

// streamsBody reports whether path is a tus endpoint's, the API's or the console's (routing
// ignores case, so does this).
func streamsBody(path string) bool {
	return under(path, uploadsPath) || under(path, consoleUploadsPath)
}

// under reports whether path is prefix or below it, ignoring case.
func under(path, prefix string) bool {
	if len(path) < len(prefix) || !strings.EqualFold(path[:len(prefix)], prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}

// limitBody reads a streamed request body into memory, at most limit bytes, so that handlers
// see it whole in c.Request().Body() as before streaming was turned on. A body over the limit
// is refused (by its Content-Length, without reading it, or after limit+1 bytes of a chunked
// one) and the connection closed after the answer, since the rest of it is still unread. Under
// uploadsPath the body is left to the tus handler, wrapped in a streamedBody (localBody) that
// closes the connection if the handler leaves part of it unread.
func limitBody(c *fiber.Ctx, limit int) error {
	req := c.Request()
	stream := req.BodyStream()
	if stream == nil {
		return nil
	}
	size := req.Header.ContentLength() // -1: chunked
	if streamsBody(c.Path()) {
		body := &streamedBody{r: stream, size: int64(size)}
		c.Locals(localBody, body)
		return nil
	}
	if size > limit {
		c.Context().SetConnectionClose()
		return apperr.New(apperr.TooLarge, "the request body is over %d bytes", limit)
	}
	// The buffer grows with what arrives: sized by the Content-Length alone, a request that
	// announced megabytes and sent a few bytes made the server hold megabytes (before any
	// authentication) until its read timeout. +1: the read that meets the end needs no room.
	buf := make([]byte, 0, min(max(size, 512), initialBodyCap)+1)
	buf, err := readAll(io.LimitReader(stream, int64(limit)+1), buf)
	if err != nil {
		// Not the error's text: it names the server's own address (a read timeout).
		c.Context().SetConnectionClose()
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return apperr.New(apperr.RequestTimeout, "the request body arrived too slowly")
		}
		return apperr.New(apperr.Invalid, "the request body could not be read: it ended early")
	}
	if len(buf) > limit {
		c.Context().SetConnectionClose()
		return apperr.New(apperr.TooLarge, "the request body is over %d bytes", limit)
	}
	req.SetBodyRaw(buf)
	return nil
}

// initialBodyCap is the most a body's buffer starts with, whatever its Content-Length says.
const initialBodyCap = 64 << 10

// readAll appends r's bytes to buf until io.EOF.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// localBody is the Locals key of a tus request's *streamedBody.
const localBody = "mportal.body"

// streamedBody is a tus request's body as it arrives from the connection. It counts what has
// been read, so that closeUnread can tell whether the connection can carry another request.
type streamedBody struct {
	r    io.Reader
	size int64 // Content-Length, -1 when chunked
	read int64
	eof  bool
}

func (b *streamedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += int64(n)
	if errors.Is(err, io.EOF) {
		if b.size >= 0 && b.read < b.size {
			// fasthttp ends a body cut off by a lost connection with io.EOF; tusd must know
			// the request failed (it keeps the bytes that came).
			return n, io.ErrUnexpectedEOF
		}
		b.eof = true
	}
	return n, err
}

// closeUnread closes the connection after the response when the handler stopped reading the
// body before its end (an offset conflict, someone else's upload, a lost client): the bytes
// left would otherwise be read as the next request.
func closeUnread(c *fiber.Ctx) {
	b, ok := c.Locals(localBody).(*streamedBody)
	if !ok || b.eof || (b.size >= 0 && b.read >= b.size) {
		return
	}
	c.Context().SetConnectionClose()
}
