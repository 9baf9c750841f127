package api

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/console"
	"github.com/mportal/mportal/internal/release"
)

// consoleStartBuildUpload hands the upload script a presigned PUT URL into object storage
// (the API's StartUpload): the file never passes through mportal. It answers JSON only.
func (s *Server) consoleStartBuildUpload(c *fiber.Ctx) error {
	size, err := strconv.ParseInt(c.FormValue("size"), 10, 64)
	if err != nil {
		return apperr.Field("size", "size must be the file's size in bytes")
	}
	t, err := s.deps.Releases.StartUpload(c.UserContext(), principal(c), c.Params("app_id"), release.UploadInput{
		Platform: release.Platform(c.FormValue("platform")), Size: size, Filename: c.FormValue("filename"),
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store") // the URL is a credential for a few minutes
	return c.Status(fiber.StatusCreated).JSON(t)
}

// consoleCreateBuild turns an uploaded file into a build (the API's CreateBuild: the server
// reads the metadata and the icon from the stored file), audits it and opens the build's
// page; the upload script gets the page's address as JSON.
func (s *Server) consoleCreateBuild(c *fiber.Ctx) error {
	ctx, p, appID := c.UserContext(), principal(c), c.Params("app_id")
	b, err := s.deps.Releases.CreateBuild(ctx, p, appID, release.BuildInput{UploadKey: c.FormValue("upload_key")})
	if err != nil {
		return err
	}
	s.audit(c, p, "build.create", appID+"/"+b.PublicID, nil, b)
	loc := "/console/apps/" + url.PathEscape(appID) + "/builds/" + url.PathEscape(b.PublicID)
	if strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMEApplicationJSON) {
		c.Location(loc)
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": b.PublicID, "location": loc})
	}
	return c.Redirect(loc, fiber.StatusSeeOther)
}

// consoleBuildScreen loads an app and one of its builds for the build's page.
func (s *Server) consoleFindBuild(c *fiber.Ctx, appID, buildID string) (*release.App, *release.Build, error) {
	ctx, p := c.UserContext(), principal(c)
	app, err := s.deps.Releases.GetApp(ctx, p, appID)
	if err != nil {
		return nil, nil, err
	}
	builds, err := s.deps.Releases.ListBuilds(ctx, p, appID, "")
	if err != nil {
		return nil, nil, err
	}
	for i := range builds {
		if builds[i].PublicID == buildID {
			return app, &builds[i], nil
		}
	}
	return nil, nil, apperr.New(apperr.NotFound, "build not found")
}

// consoleBuild shows a build's parsed metadata and icon, with the form that publishes it.
func (s *Server) consoleBuild(c *fiber.Ctx) error {
	appID := c.Params("app_id")
	app, b, err := s.consoleFindBuild(c, appID, c.Params("build_id"))
	if err != nil {
		return err
	}
	chs, err := s.deps.Releases.ListChannels(c.UserContext(), principal(c), appID)
	if err != nil {
		return err
	}
	return s.renderConsole(c, fiber.StatusOK, "apps_build", console.Page{Title: "build", Nav: "apps",
		Data: console.BuildScreen{App: *app, Build: *b, Channels: chs}})
}

// consoleBuildIcon is the icon parsed from a build.
func (s *Server) consoleBuildIcon(c *fiber.Ctx) error {
	r, size, err := s.deps.Releases.BuildIcon(c.UserContext(), principal(c), c.Params("app_id"), c.Params("build_id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.SendStream(r, int(size)) // fasthttp closes r once it is sent
}

// consolePublishForm reads the publish form: build, channel, percentage and whether to notify.
func consolePublishForm(c *fiber.Ctx) (buildID, channel string, percent float64, notify bool, err error) {
	buildID, channel = c.FormValue("build_id"), c.FormValue("channel")
	if buildID == "" {
		return "", "", 0, false, apperr.Field("build_id", "build_id is required")
	}
	if channel == "" {
		return "", "", 0, false, apperr.Field("channel", "channel is required")
	}
	percent, err = strconv.ParseFloat(c.FormValue("percent"), 64)
	if err != nil || percent <= 0 || percent > 100 {
		return "", "", 0, false, apperr.Field("percent", "percent must be a number above 0 and at most 100")
	}
	return buildID, channel, percent, c.FormValue("notify") == "true", nil
}

// consoleConfirmPublish says who a new release will reach (the channel's active users and N%
// of them) before it is published; its form posts the release.
func (s *Server) consoleConfirmPublish(c *fiber.Ctx) error {
	appID := c.Params("app_id")
	buildID, channel, percent, notify, err := consolePublishForm(c)
	if err != nil {
		return err
	}
	app, b, err := s.consoleFindBuild(c, appID, buildID)
	if err != nil {
		return err
	}
	reach, err := s.deps.Releases.Reach(c.UserContext(), principal(c), appID, channel)
	if err != nil {
		return err
	}
	d := console.Confirmation{App: *app, Reach: *reach, Action: "publish", Platform: b.Platform, Build: b.Build, Version: b.Version,
		To: percent, PostTo: "/console/apps/" + url.PathEscape(appID) + "/releases", Form: []console.Field{
			{Name: "build_id", Value: b.PublicID}, {Name: "channel", Value: channel},
			{Name: "percent", Value: strconv.FormatFloat(percent, 'f', -1, 64)}, {Name: "notify", Value: strconv.FormatBool(notify)},
		}, Cancel: "/console/apps/" + url.PathEscape(appID) + "/builds/" + url.PathEscape(b.PublicID)}
	return s.renderConsole(c, fiber.StatusOK, "apps_confirm", console.Page{Title: "confirm", Nav: "apps", Data: d})
}

// consolePublish publishes a build to a channel at N% through the release service and audits
// the track before and after.
func (s *Server) consolePublish(c *fiber.Ctx) error {
	ctx, p, appID := c.UserContext(), principal(c), c.Params("app_id")
	buildID, channel, percent, notify, err := consolePublishForm(c)
	if err != nil {
		return err
	}
	_, b, err := s.consoleFindBuild(c, appID, buildID)
	if err != nil {
		return err
	}
	tracks, err := s.deps.Releases.ListTracks(ctx, p, appID)
	if err != nil {
		return err
	}
	before := findTrack(tracks, b.Platform, channel)
	after, err := s.deps.Releases.Publish(ctx, p, appID, release.PublishInput{
		Platform: b.Platform, Channel: channel, BuildID: b.PublicID, Percent: percent, Notify: notify,
	})
	if err != nil {
		return err
	}
	s.audit(c, p, "release.publish", appID+"/"+string(b.Platform)+"/"+channel, before, after)
	return consoleDone(c, "/console/apps/"+url.PathEscape(appID)+"#releases")
}
