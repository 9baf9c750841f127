package api

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/console"
	"github.com/mportal/mportal/internal/release"
)

// consoleApps lists every app with its tracks and their releases, each with the forms that
// raise, halt, resume or complete it.
func (s *Server) consoleApps(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	apps, err := s.deps.Releases.ListApps(ctx, p)
	if err != nil {
		return err
	}
	data := make([]console.AppTracks, 0, len(apps))
	for _, a := range apps {
		tracks, err := s.deps.Releases.ListTracks(ctx, p, a.ID)
		if err != nil {
			return err
		}
		data = append(data, console.AppTracks{App: a, Tracks: tracks})
	}
	return s.renderConsole(c, fiber.StatusOK, "apps", console.Page{Title: "apps", Nav: "apps", Data: data})
}

// consoleChangeRelease raises, halts, resumes or completes a release through the release
// service and audits the track before and after.
func (s *Server) consoleChangeRelease(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	appID, platform, channel, releaseID := c.Params("app_id"), release.Platform(c.Params("platform")), c.Params("channel"), c.Params("release_id")
	action := release.Transition(c.FormValue("action"))
	var percent float64
	switch action {
	case release.Raise:
		v, err := strconv.ParseFloat(c.FormValue("percent"), 64)
		if err != nil {
			return apperr.Field("percent", "percent must be a number from 0 to 100")
		}
		percent = v
	case release.Halt, release.Resume, release.Complete:
	default:
		return apperr.Field("action", "action must be raise, halt, resume or complete")
	}
	var before *release.Track
	tracks, err := s.deps.Releases.ListTracks(ctx, p, appID)
	if err != nil {
		return err
	}
	for i := range tracks {
		if tracks[i].Platform == platform && tracks[i].Channel == channel {
			before = &tracks[i]
		}
	}
	after, err := s.deps.Releases.ChangeRelease(ctx, p, appID, platform, channel, releaseID, action, percent)
	if err != nil {
		return err
	}
	if err := s.deps.Audit.Record(ctx, p, consoleVia, "release."+string(action), appID+"/"+string(platform)+"/"+channel+"/"+releaseID, before, after); err != nil {
		return err
	}
	return consoleDone(c, "/console/apps")
}
