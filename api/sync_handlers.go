package api

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	datasync "github.com/mportal/mportal/sync"
)

// lastPulledAt parses the cursor: absent, empty, "null" and 0 all mean a first sync, as
// WatermelonDB sends null on its first pull.
func lastPulledAt(c *fiber.Ctx) (int64, error) {
	v := c.Query("last_pulled_at")
	if v == "" || v == "null" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, apperr.Field("last_pulled_at", "last_pulled_at must be the timestamp of a previous pull, 0 or null")
	}
	return n, nil
}

// syncPull prepares the pull (errors become problems), then streams the body: a first sync of
// thousands of records is never built in memory. schema_version limits the pull to the tables
// that schema version has (absent: every table); every table sent has every column of the
// server's schema. A migration (tables or columns the app added since its last pull) makes those
// tables come whole.
func (s *Server) syncPull(c *fiber.Ctx) error {
	since, err := lastPulledAt(c)
	if err != nil {
		return err
	}
	schema := 0
	if v := c.Query("schema_version"); v != "" && v != "null" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return apperr.Field("schema_version", "schema_version must be the app's schema version, a positive integer")
		}
		schema = n
	}
	migration, err := datasync.ParseMigration(c.Query("migration"))
	if err != nil {
		return err
	}
	p := principal(c)
	// The stream ends (truncated: the app retries) within the write timeout of the request's
	// arrival, less a second, so that its answer reaches a client or proxy that gives up at the
	// same bound (HAProxy's "timeout server", the apps' own) before they do.
	reqID, timeout := requestID(c), s.deps.Config.WriteTimeout
	if timeout > 2*time.Second {
		timeout -= time.Second
	}
	arrived := c.Context().Time()
	// Opening the pull (reading the change log, perhaps after another pull's turn) gets half of
	// that: past it, a 503 the app retries beats a stream left no time to run. Before, a pull
	// that waited out an outage behind others opened at its deadline and was cut off at once.
	openCtx := c.UserContext()
	if timeout > 0 {
		var cancel context.CancelFunc
		openCtx, cancel = context.WithDeadline(openCtx, arrived.Add(timeout/2))
		defer cancel()
	}
	stream, err := s.deps.Sync.OpenPull(openCtx, p, since)
	if err != nil {
		return err
	}
	stream.ForSchema(schema)
	stream.Migrate(migration)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Set(fiber.HeaderCacheControl, "no-store")
	// The writer runs after the handler returns, when c belongs to the next request: it uses
	// only values taken from it here.
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.Background(), func() {}
		if timeout > 0 {
			ctx, cancel = context.WithDeadline(ctx, arrived.Add(timeout))
		}
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("sync pull panicked", "request_id", reqID, "panic", fmt.Sprint(r))
			}
		}()
		if err := stream.WriteTo(ctx, w); err != nil {
			// The status is sent: the truncated body makes the app's pull fail and retry.
			s.log.Error("sync pull failed while streaming", "request_id", reqID, "user", p.UserID, "error", err.Error())
		}
	})
	return nil
}

// syncPush applies a push. The body is read raw (the engine decodes it table by table) and is
// held to the JSON body limit.
func (s *Server) syncPush(c *fiber.Ctx) error {
	since, err := lastPulledAt(c)
	if err != nil {
		return err
	}
	if err := requireContentType(c, fiber.MIMEApplicationJSON); err != nil {
		return err
	}
	body := c.Request().Body()
	if len(body) > s.deps.Config.BodyLimit {
		return apperr.New(apperr.TooLarge, "the push is over %d bytes; push in smaller batches", s.deps.Config.BodyLimit)
	}
	res, err := s.deps.Sync.Push(c.UserContext(), principal(c), since, body)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Server) listSyncRejects(c *fiber.Ctx) error {
	items, err := s.deps.Sync.Rejects(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) dismissSyncReject(c *fiber.Ctx) error {
	id, err := url.PathUnescape(c.Params("reject_id"))
	if err != nil || id == "" {
		return apperr.New(apperr.NotFound, "sync reject not found")
	}
	if err := s.deps.Sync.DismissReject(c.UserContext(), principal(c), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
