package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/release"
)

func (s *Server) listMyApps(c *fiber.Ctx) error {
	items, err := s.deps.Releases.Apps(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) listMyChannels(c *fiber.Ctx) error {
	items, err := s.deps.Releases.Channels(c.UserContext(), principal(c), c.Params("app_id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) joinChannel(c *fiber.Ctx) error {
	v, err := s.deps.Releases.Join(c.UserContext(), principal(c), c.Params("app_id"), c.Params("channel"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) leaveChannel(c *fiber.Ctx) error {
	v, err := s.deps.Releases.Leave(c.UserContext(), principal(c), c.Params("app_id"), c.Params("channel"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) listApps(c *fiber.Ctx) error {
	items, err := s.deps.Releases.ListApps(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) createApp(c *fiber.Ctx) error {
	var in release.AppInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	a, err := s.deps.Releases.CreateApp(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(a)
}

func (s *Server) getApp(c *fiber.Ctx) error {
	a, err := s.deps.Releases.GetApp(c.UserContext(), principal(c), c.Params("app_id"))
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) updateApp(c *fiber.Ctx) error {
	var in release.AppPatch
	if err := s.bind(c, &in); err != nil {
		return err
	}
	a, err := s.deps.Releases.UpdateApp(c.UserContext(), principal(c), c.Params("app_id"), in)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) listChannels(c *fiber.Ctx) error {
	items, err := s.deps.Releases.ListChannels(c.UserContext(), principal(c), c.Params("app_id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) putChannel(c *fiber.Ctx) error {
	var in release.ChannelInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	ch, err := s.deps.Releases.PutChannel(c.UserContext(), principal(c), c.Params("app_id"), c.Params("channel"), in)
	if err != nil {
		return err
	}
	return c.JSON(ch)
}

func (s *Server) listMembers(c *fiber.Ctx) error {
	items, err := s.deps.Releases.ListMembers(c.UserContext(), principal(c), c.Params("app_id"), c.Params("channel"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) inviteMember(c *fiber.Ctx) error {
	m, err := s.deps.Releases.Invite(c.UserContext(), principal(c), c.Params("app_id"), c.Params("channel"), c.Params("user_id"))
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (s *Server) removeMember(c *fiber.Ctx) error {
	if err := s.deps.Releases.RemoveMember(c.UserContext(), principal(c), c.Params("app_id"), c.Params("channel"), c.Params("user_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) startBuildUpload(c *fiber.Ctx) error {
	var in release.UploadInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	t, err := s.deps.Releases.StartUpload(c.UserContext(), principal(c), c.Params("app_id"), in)
	if err != nil {
		return err
	}
	// The URL is a credential for a few minutes; nobody should keep it longer.
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Status(fiber.StatusCreated).JSON(t)
}

func (s *Server) createBuild(c *fiber.Ctx) error {
	var in release.BuildInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	b, err := s.deps.Releases.CreateBuild(c.UserContext(), principal(c), c.Params("app_id"), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(b)
}

func (s *Server) listBuilds(c *fiber.Ctx) error {
	items, err := s.deps.Releases.ListBuilds(c.UserContext(), principal(c), c.Params("app_id"), release.Platform(c.Query("platform")))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) updateBuild(c *fiber.Ctx) error {
	var in release.BuildPatch
	if err := s.bind(c, &in); err != nil {
		return err
	}
	b, err := s.deps.Releases.UpdateBuild(c.UserContext(), principal(c), c.Params("app_id"), c.Params("build_id"), in)
	if err != nil {
		return err
	}
	return c.JSON(b)
}

func (s *Server) deleteBuild(c *fiber.Ctx) error {
	if err := s.deps.Releases.DeleteBuild(c.UserContext(), principal(c), c.Params("app_id"), c.Params("build_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) publishRelease(c *fiber.Ctx) error {
	var in release.PublishInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	t, err := s.deps.Releases.Publish(c.UserContext(), principal(c), c.Params("app_id"), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(t)
}

func (s *Server) listTracks(c *fiber.Ctx) error {
	items, err := s.deps.Releases.ListTracks(c.UserContext(), principal(c), c.Params("app_id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) setMinBuild(c *fiber.Ctx) error {
	var in struct {
		MinBuild *int64 `json:"min_build"`
	}
	if err := s.bind(c, &in); err != nil {
		return err
	}
	if in.MinBuild == nil {
		return apperr.Field("min_build", "min_build is required (0 removes the floor)")
	}
	t, err := s.deps.Releases.SetMinBuild(c.UserContext(), principal(c), c.Params("app_id"),
		release.Platform(c.Params("platform")), c.Params("channel"), *in.MinBuild)
	if err != nil {
		return err
	}
	return c.JSON(t)
}

// changeRelease serves raise, halt, resume and complete; only raise has a body.
func (s *Server) changeRelease(c *fiber.Ctx) error {
	action := release.Transition(c.Params("action"))
	var in struct {
		Percent float64 `json:"percent"`
	}
	switch action {
	case release.Raise:
		if err := s.bind(c, &in); err != nil {
			return err
		}
	case release.Halt, release.Resume, release.Complete:
	default:
		return fiber.ErrNotFound
	}
	t, err := s.deps.Releases.ChangeRelease(c.UserContext(), principal(c), c.Params("app_id"),
		release.Platform(c.Params("platform")), c.Params("channel"), c.Params("release_id"), action, in.Percent)
	if err != nil {
		return err
	}
	return c.JSON(t)
}
