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

// consoleChannel shows a channel's settings, reach and explicit members, with the forms that
// change them (stable has everybody and nothing to set).
func (s *Server) consoleChannel(c *fiber.Ctx) error {
	ctx, p, appID, name := c.UserContext(), principal(c), c.Params("app_id"), c.Params("channel")
	app, err := s.deps.Releases.GetApp(ctx, p, appID)
	if err != nil {
		return err
	}
	ch, err := s.consoleFindChannel(c, appID, name)
	if err != nil {
		return err
	}
	reach, err := s.deps.Releases.Reach(ctx, p, appID, name)
	if err != nil {
		return err
	}
	d := console.ChannelScreen{App: *app, Channel: *ch, Reach: *reach}
	if !d.Stable() {
		if d.Members, err = s.deps.Releases.ListMembers(ctx, p, appID, name); err != nil {
			return err
		}
	}
	return s.renderConsole(c, fiber.StatusOK, "apps_channel", console.Page{Title: "channel", Nav: "apps", Data: d})
}

// consoleFindChannel returns one of an app's channels.
func (s *Server) consoleFindChannel(c *fiber.Ctx, appID, name string) (*release.Channel, error) {
	chs, err := s.deps.Releases.ListChannels(c.UserContext(), principal(c), appID)
	if err != nil {
		return nil, err
	}
	for i := range chs {
		if chs[i].Name == name {
			return &chs[i], nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "channel not found")
}

// commaList splits a comma-separated form field into its trimmed, non-empty items.
func commaList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// consolePutChannel saves a channel's settings (self opt-in, cap, retention, roles,
// departments) through the release service and audits the channel before and after.
func (s *Server) consolePutChannel(c *fiber.Ctx) error {
	ctx, p, appID, name := c.UserContext(), principal(c), c.Params("app_id"), c.Params("channel")
	in := release.ChannelInput{SelfOptIn: c.FormValue("self_opt_in") == "true",
		Roles: commaList(c.FormValue("roles")), Departments: commaList(c.FormValue("departments"))}
	for _, f := range []struct {
		name string
		to   *int
	}{{"cap", &in.Cap}, {"retention", &in.Retention}} {
		// A field left empty (or cleared) is 0 (no cap, keep all), as one the form did not send.
		v := strings.TrimSpace(c.FormValue(f.name))
		if v == "" {
			v = "0"
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return apperr.Field(f.name, "%s must be a whole number", f.name)
		}
		*f.to = n
	}
	before, err := s.consoleFindChannel(c, appID, name)
	if err != nil {
		return err
	}
	after, err := s.deps.Releases.PutChannel(ctx, p, appID, name, in)
	if err != nil {
		return err
	}
	s.audit(c, p, "channel.update", appID+"/"+name, before, after)
	return consoleDone(c, consoleChannelPath(appID, name))
}

// consoleInvite invites a user into a channel through the release service (which takes a
// seat when the channel is capped) and audits the membership.
func (s *Server) consoleInvite(c *fiber.Ctx) error {
	ctx, p, appID, name := c.UserContext(), principal(c), c.Params("app_id"), c.Params("channel")
	userID := strings.TrimSpace(c.FormValue("user_id"))
	if userID == "" {
		return apperr.Field("user_id", "user_id is required")
	}
	m, err := s.deps.Releases.Invite(ctx, p, appID, name, userID)
	if err != nil {
		return err
	}
	s.audit(c, p, "channel.invite", appID+"/"+name+"/"+userID, nil, m)
	return consoleDone(c, consoleChannelPath(appID, name))
}

// consoleRemoveMember removes a user from a channel through the release service and audits it.
func (s *Server) consoleRemoveMember(c *fiber.Ctx) error {
	ctx, p, appID, name, userID := c.UserContext(), principal(c), c.Params("app_id"), c.Params("channel"), c.Params("user_id")
	if err := s.deps.Releases.RemoveMember(ctx, p, appID, name, userID); err != nil {
		return err
	}
	s.audit(c, p, "channel.remove", appID+"/"+name+"/"+userID,
		map[string]string{"user_id": userID}, nil)
	return consoleDone(c, consoleChannelPath(appID, name))
}

func consoleChannelPath(appID, name string) string {
	return "/console/apps/" + url.PathEscape(appID) + "/channels/" + url.PathEscape(name)
}
