package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
)

// bind decodes a JSON request body into v. It answers 415 for another content type, 413 above the
// JSON body limit, 400 invalid_json (naming the offending field where it can) for bad JSON, and
// 400 invalid naming the field for a field v does not have: every request body of the contract
// is declared additionalProperties: false, and a misspelt field silently ignored would look
// like success to the client.
func (s *Server) bind(c *fiber.Ctx, v any) error {
	if err := requireContentType(c, "application/json"); err != nil {
		return err
	}
	body := c.Request().Body() // raw bytes: c.Body() would inflate a compressed body unbounded
	if len(body) > s.deps.Config.BodyLimit {
		return apperr.New(apperr.TooLarge, "the request body is over %d bytes", s.deps.Config.BodyLimit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.New(apperr.InvalidJSON, "the request body is empty; a JSON object is expected")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.InvalidJSON, "the request body has data after the JSON value")
	}
	return nil
}

// rejectEncodedBody refuses compressed request bodies: inflating them would bypass the body
// limits (a few KiB of gzip can expand to gigabytes). A request without a body (no
// Content-Length and not chunked, which fasthttp reads as none, or Content-Length: 0) has
// nothing to inflate: its headers are not looked at, which spares every GET a header lookup.
func rejectEncodedBody(c *fiber.Ctx) error {
	if n := c.Request().Header.ContentLength(); n == 0 || n == -2 { // -2: neither header
		return nil
	}
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return apperr.New(apperr.UnsupportedMedia, "compressed request bodies (Content-Encoding: %s) are not accepted", enc)
	}
	return nil
}

// requireContentType checks the request's media type, ignoring parameters such as charset.
func requireContentType(c *fiber.Ctx, want string) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || !strings.EqualFold(mt, want) {
		return apperr.New(apperr.UnsupportedMedia, "Content-Type must be %s", want)
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return apperr.Wrap(err, apperr.InvalidJSON, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		e := apperr.Wrap(err, apperr.InvalidJSON, "%s must be a JSON %s", fieldName(typ.Field), typ.Type.Kind())
		e.Field = typ.Field
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for it; the message is "json: unknown field \"name\"".
		name, uerr := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if uerr != nil {
			name = strings.TrimPrefix(err.Error(), "json: unknown field ")
		}
		return apperr.Field(name, "unknown field %q; the contract lists the fields of this body", name)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Wrap(err, apperr.InvalidJSON, "the JSON body ends too early")
	default:
		return apperr.Wrap(err, apperr.InvalidJSON, "the body is not a valid JSON object")
	}
}

func fieldName(f string) string {
	if f == "" {
		return "the body"
	}
	return fmt.Sprintf("field %q", f)
}
