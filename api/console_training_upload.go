package api

import (
	"crypto/subtle"
	"strings"

	"github.com/gofiber/fiber/v2"
	tushandler "github.com/tus/tusd/v2/pkg/handler"

	"github.com/mportal/mportal/internal/apperr"
)

// consoleUploadsPath is where the console's tus endpoint is mounted: the training page's
// script uploads videos here with the console's session cookie (the console never holds a
// bearer token). It is the same tus handler, upload service and hooks as /v1/uploads/; only
// the path and the credential differ.
const consoleUploadsPath = "/console/training/uploads"

// consoleScriptChange is the anti-forgery check of the console's script requests that are not
// forms (tus): same origin, and the anti-forgery token of the visitor's cookie in the
// X-CSRF-Token header, which a cross-site page cannot set without a CORS preflight that is
// never granted.
func (s *Server) consoleScriptChange(c *fiber.Ctx) error {
	cookie, header := c.Cookies(consoleCSRFCookie), c.Get("X-CSRF-Token")
	if !sameOriginPost(c, s.deps.Config.PublicBaseURL) || len(cookie) != csrfTokenLen ||
		subtle.ConstantTimeCompare([]byte(cookie), []byte(header)) != 1 {
		return apperr.New(apperr.Forbidden, "the page has expired: reload it and upload again")
	}
	return c.Next()
}

// consoleTus serves the console's tus requests with the API's tus handler h: the request is
// handed over as if it came to /v1/uploads/ (tusd routes on its base path) and the Location
// of a new upload is given back under consoleUploadsPath, so the script keeps talking to the
// console.
func consoleTus(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		uri := string(c.Request().RequestURI())
		if len(uri) < len(consoleUploadsPath) || !strings.EqualFold(uri[:len(consoleUploadsPath)], consoleUploadsPath) {
			return apperr.New(apperr.NotFound, "no such endpoint")
		}
		c.Request().SetRequestURI(uploadsPath + uri[len(consoleUploadsPath):])
		err := h(c)
		if loc := string(c.Response().Header.Peek(fiber.HeaderLocation)); loc != "" {
			if i := strings.Index(loc, uploadsPath+"/"); i >= 0 {
				c.Response().Header.Set(fiber.HeaderLocation, consoleUploadsPath+loc[i+len(uploadsPath):])
			}
		}
		return err
	}
}

// consoleAuditUpload audits the start of a video file's upload through the console, a change of
// what a video plays: "training.upload" on the video, with the file's name and size and the
// upload's id, once the upload is created (201). Its completion is the upload service's, as for
// uploads through the API; a file that fails the checks shows as failed on the video's page.
func (s *Server) consoleAuditUpload(c *fiber.Ctx) error {
	if err := c.Next(); err != nil || c.Response().StatusCode() != fiber.StatusCreated {
		return err
	}
	meta := tushandler.ParseMetadataHeader(c.Get("Upload-Metadata"))
	loc := string(c.Response().Header.Peek(fiber.HeaderLocation))
	s.audit(c, principal(c), "training.upload", meta["video_id"], nil, map[string]string{
		"filename": meta["filename"], "size": c.Get("Upload-Length"), "upload_id": loc[strings.LastIndexByte(loc, '/')+1:]})
	return nil
}
