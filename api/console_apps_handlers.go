package api

import (
	"encoding/base64"
	"html/template"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/console"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/install"
)

// consoleApps lists every app with its tracks and their releases, each with the forms that
// raise, halt, resume or complete it (after a confirmation).
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

// consoleApp is one app's screen: builds and their upload, releases, minimum builds, channels,
// and the install page's link and QR code. Its script PUTs builds to object storage, so the
// page's CSP lets it connect there.
func (s *Server) consoleApp(c *fiber.Ctx) error {
	ctx, p, appID := c.UserContext(), principal(c), c.Params("app_id")
	app, err := s.deps.Releases.GetApp(ctx, p, appID)
	if err != nil {
		return err
	}
	d := console.AppScreen{App: *app, InstallURL: s.deps.Config.PublicBaseURL + "/install/" + url.PathEscape(app.ID)}
	if d.Builds, err = s.deps.Releases.ListBuilds(ctx, p, appID, ""); err != nil {
		return err
	}
	if d.Tracks, err = s.deps.Releases.ListTracks(ctx, p, appID); err != nil {
		return err
	}
	if d.Channels, err = s.deps.Releases.ListChannels(ctx, p, appID); err != nil {
		return err
	}
	png, err := install.QRCodePNG(d.InstallURL)
	if err != nil {
		return err
	}
	d.InstallQR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	if err := s.renderConsole(c, fiber.StatusOK, "apps_app", console.Page{Title: "app", Nav: "apps", Data: d}); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentSecurityPolicy, console.CSPAllowing(console.CSP, "connect-src", s.storageOrigin()))
	return nil
}

// storageOrigin is the origin of the presigned upload URLs (MinIO as browsers reach it), for
// the upload page's connect-src.
func (s *Server) storageOrigin() string {
	cfg := s.deps.Config
	ep := cfg.MinIOPublicEndpoint
	if ep == "" {
		ep = cfg.MinIOEndpoint
	}
	if u, err := url.Parse(ep); err == nil && strings.Contains(ep, "://") {
		return u.Scheme + "://" + u.Host
	}
	if cfg.MinIOUseTLS {
		return "https://" + ep
	}
	return "http://" + ep
}

// consoleReleaseAction reads a release change from a form or query: the transition, and for a
// raise the new percentage.
func consoleReleaseAction(c *fiber.Ctx) (release.Transition, float64, error) {
	action := release.Transition(c.FormValue("action", c.Query("action")))
	switch action {
	case release.Raise:
		v, err := strconv.ParseFloat(c.FormValue("percent", c.Query("percent")), 64)
		if err != nil {
			return "", 0, apperr.Field("percent", "percent must be a number from 0 to 100")
		}
		return action, v, nil
	case release.Halt, release.Resume, release.Complete:
		return action, 0, nil
	}
	return "", 0, apperr.Field("action", "action must be raise, halt, resume or complete")
}

// findTrack returns the track of (platform, channel) among tracks, or nil.
func findTrack(tracks []release.Track, platform release.Platform, channel string) *release.Track {
	for i := range tracks {
		if tracks[i].Platform == platform && tracks[i].Channel == channel {
			return &tracks[i]
		}
	}
	return nil
}

// consoleConfirmChange is the confirmation of a raise, halt, resume or complete: who gets the
// release after it (the channel's reach, at the new percentage). Its form posts the change.
func (s *Server) consoleConfirmChange(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	appID, platform, channel, releaseID := c.Params("app_id"), release.Platform(c.Params("platform")), c.Params("channel"), c.Params("release_id")
	action, percent, err := consoleReleaseAction(c)
	if err != nil {
		return err
	}
	app, err := s.deps.Releases.GetApp(ctx, p, appID)
	if err != nil {
		return err
	}
	tracks, err := s.deps.Releases.ListTracks(ctx, p, appID)
	if err != nil {
		return err
	}
	var rel *release.Release
	if tr := findTrack(tracks, platform, channel); tr != nil {
		for i := range tr.Releases {
			if tr.Releases[i].ID == releaseID {
				rel = &tr.Releases[i]
			}
		}
	}
	if rel == nil {
		return apperr.New(apperr.NotFound, "release not found")
	}
	reach, err := s.deps.Releases.Reach(ctx, p, appID, channel)
	if err != nil {
		return err
	}
	d := console.Confirmation{App: *app, Reach: *reach, Action: string(action), Platform: platform, Build: rel.Build,
		Version: rel.Version, From: rel.Percent, To: rel.Percent, PostTo: c.Path(),
		Form: []console.Field{{Name: "action", Value: string(action)}}, Cancel: "/console/apps/" + url.PathEscape(appID)}
	switch action {
	case release.Raise:
		d.To = percent
		d.Form = append(d.Form, console.Field{Name: "percent", Value: strconv.FormatFloat(percent, 'f', -1, 64)})
	case release.Halt:
		d.To = 0
	case release.Complete:
		d.To = 100
	}
	return s.renderConsole(c, fiber.StatusOK, "apps_confirm", console.Page{Title: "confirm", Nav: "apps", Data: d})
}

// consoleChangeRelease raises, halts, resumes or completes a release through the release
// service and audits the track before and after.
func (s *Server) consoleChangeRelease(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	appID, platform, channel, releaseID := c.Params("app_id"), release.Platform(c.Params("platform")), c.Params("channel"), c.Params("release_id")
	action, percent, err := consoleReleaseAction(c)
	if err != nil {
		return err
	}
	tracks, err := s.deps.Releases.ListTracks(ctx, p, appID)
	if err != nil {
		return err
	}
	before := findTrack(tracks, platform, channel)
	after, err := s.deps.Releases.ChangeRelease(ctx, p, appID, platform, channel, releaseID, action, percent)
	if err != nil {
		return err
	}
	s.audit(c, p, "release."+string(action), appID+"/"+string(platform)+"/"+channel+"/"+releaseID, before, after)
	return consoleDone(c, "/console/apps/"+url.PathEscape(appID)+"#releases")
}

// consoleSetMinBuild sets a track's minimum build (forced update) through the release service
// and audits the track before and after.
func (s *Server) consoleSetMinBuild(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	appID, platform, channel := c.Params("app_id"), release.Platform(c.Params("platform")), c.Params("channel")
	minBuild, err := strconv.ParseInt(c.FormValue("min_build"), 10, 64)
	if err != nil {
		return apperr.Field("min_build", "min_build must be a whole build number")
	}
	tracks, err := s.deps.Releases.ListTracks(ctx, p, appID)
	if err != nil {
		return err
	}
	before := findTrack(tracks, platform, channel)
	after, err := s.deps.Releases.SetMinBuild(ctx, p, appID, platform, channel, minBuild)
	if err != nil {
		return err
	}
	s.audit(c, p, "release.min_build", appID+"/"+string(platform)+"/"+channel, before, after)
	return consoleDone(c, "/console/apps/"+url.PathEscape(appID)+"#releases")
}
