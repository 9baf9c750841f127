package api

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/banner"
	"github.com/mportal/mportal/internal/console"
	"github.com/mportal/mportal/internal/whatsnew"
)

// consoleBanners lists the login-page banners, each with its edit form, and the form for a new
// one.
func (s *Server) consoleBanners(c *fiber.Ctx) error {
	return s.renderBanners(c, fiber.StatusOK, "")
}

func (s *Server) renderBanners(c *fiber.Ctx, status int, problem string) error {
	items, err := s.deps.Banners.List(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(items))
	for _, b := range items {
		keys = append(keys, b.ImageKey)
	}
	images, origins, err := s.consoleImageURLs(c, keys...)
	if err != nil {
		return err
	}
	return s.renderWithImages(c, status, "banners", console.Page{Title: "banners", Nav: "announcements",
		Data: console.Banners{Items: items, Problem: problem, Images: images}}, origins)
}

// bannerRefused shows the banners screen again with what the service refused.
func (s *Server) bannerRefused(c *fiber.Ctx, err error) error {
	msg, _, status, ok := formProblem(err)
	if !ok || (status == fiber.StatusNotFound && c.Params("banner_id") != "") {
		return err
	}
	return s.renderBanners(c, status, msg)
}

// consoleOrder reads an order field; "" is 0.
func consoleOrder(field, v string) (int, error) {
	if strings.TrimSpace(v) == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, apperr.Field(field, "%s must be a whole number", field)
	}
	return n, nil
}

// bannerPatch reads the banner form: every field is present on it, so each is set.
func (s *Server) bannerPatch(c *fiber.Ctx) (banner.Patch, error) {
	title, link, public := c.FormValue("title"), c.FormValue("link"), c.FormValue("public") != ""
	p := banner.Patch{Title: &title, Link: &link, Public: &public}
	var err error
	if p.StartsAt, err = consoleTime("starts_at", c.FormValue("starts_at")); err != nil {
		return p, err
	}
	if p.EndsAt, err = consoleTime("ends_at", c.FormValue("ends_at")); err != nil {
		return p, err
	}
	order, err := consoleOrder("order", c.FormValue("order"))
	if err != nil {
		return p, err
	}
	p.Order = &order
	key, err := s.consoleImage(c, "image")
	if err != nil {
		return p, err
	}
	if key != "" {
		p.ImageKey = &key
	}
	return p, nil
}

// consoleCreateBanner uploads the banner's image and creates the banner through the banner
// service, audited.
func (s *Server) consoleCreateBanner(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	patch, err := s.bannerPatch(c)
	if err != nil {
		return s.bannerRefused(c, err)
	}
	if patch.ImageKey == nil {
		return s.bannerRefused(c, apperr.Field("image", "choose the banner's image"))
	}
	if patch.StartsAt == nil || patch.EndsAt == nil {
		return s.bannerRefused(c, apperr.Field("starts_at", "starts_at and ends_at are required"))
	}
	b, err := s.deps.Banners.Create(ctx, p, banner.Input{Title: *patch.Title, ImageKey: *patch.ImageKey, Link: *patch.Link,
		StartsAt: *patch.StartsAt, EndsAt: *patch.EndsAt, Order: *patch.Order, Public: *patch.Public})
	if err != nil {
		return s.bannerRefused(c, err)
	}
	s.audit(c, p, "banner.create", b.ID, nil, b)
	return consoleDone(c, "/console/banners")
}

// findBanner returns the banner with id from the service's list, for the audit's "before".
func (s *Server) findBanner(c *fiber.Ctx, id string) (*banner.Banner, error) {
	items, err := s.deps.Banners.List(c.UserContext(), principal(c))
	if err != nil {
		return nil, err
	}
	for i := range items {
		if items[i].ID == id {
			return &items[i], nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "banner not found")
}

// consoleUpdateBanner edits a banner (its window too: an earlier end ends it) through the
// banner service, audited before and after.
func (s *Server) consoleUpdateBanner(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("banner_id")
	before, err := s.findBanner(c, id)
	if err != nil {
		return err
	}
	patch, err := s.bannerPatch(c)
	if err != nil {
		return s.bannerRefused(c, err)
	}
	after, err := s.deps.Banners.Update(ctx, p, id, patch)
	if err != nil {
		return s.bannerRefused(c, err)
	}
	s.audit(c, p, "banner.update", id, before, after)
	return consoleDone(c, "/console/banners")
}

// consoleDeleteBanner deletes a banner through the banner service, audited.
func (s *Server) consoleDeleteBanner(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("banner_id")
	before, err := s.findBanner(c, id)
	if err != nil {
		return err
	}
	if err := s.deps.Banners.Delete(ctx, p, id); err != nil {
		return err
	}
	s.audit(c, p, "banner.delete", id, before, nil)
	return consoleDone(c, "/console/banners")
}

// consoleWhatsNew lists the what's-new cards (of one app with ?app=) and the form for a new one.
func (s *Server) consoleWhatsNew(c *fiber.Ctx) error {
	return s.renderWhatsNew(c, fiber.StatusOK, c.Query("app"), "")
}

func (s *Server) renderWhatsNew(c *fiber.Ctx, status int, app, problem string) error {
	items, err := s.deps.WhatsNew.List(c.UserContext(), principal(c), app)
	if err != nil {
		msg, _, st, ok := formProblem(err)
		if !ok || problem != "" {
			return err
		}
		// A bad ?app= filter: show every card and say why.
		return s.renderWhatsNew(c, st, "", msg)
	}
	keys := make([]string, 0, len(items))
	for _, card := range items {
		keys = append(keys, card.ImageKey)
	}
	images, origins, err := s.consoleImageURLs(c, keys...)
	if err != nil {
		return err
	}
	return s.renderWithImages(c, status, "whatsnew", console.Page{Title: "whatsnew", Nav: "announcements",
		Data: console.WhatsNew{App: app, Items: items, Problem: problem, Images: images}}, origins)
}

// consoleCreateWhatsNew creates a card (with an optional image) through the what's-new
// service, audited.
func (s *Server) consoleCreateWhatsNew(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	card, err := s.whatsNewInput(c)
	var created *whatsnew.Card
	if err == nil {
		created, err = s.deps.WhatsNew.Create(ctx, p, card)
	}
	if err != nil {
		msg, _, status, ok := formProblem(err)
		if !ok {
			return err
		}
		return s.renderWhatsNew(c, status, "", msg)
	}
	s.audit(c, p, "whatsnew.create", created.ID, nil, created)
	return consoleDone(c, "/console/whats-new?app="+url.QueryEscape(created.AppID))
}

// whatsNewInput reads the card form.
func (s *Server) whatsNewInput(c *fiber.Ctx) (whatsnew.Input, error) {
	in := whatsnew.Input{AppID: strings.TrimSpace(c.FormValue("app_id")),
		Title: map[string]string{"zh-CN": c.FormValue("title_zh"), "en": c.FormValue("title_en")},
		Body:  map[string]string{"zh-CN": formText(c, "body_zh"), "en": formText(c, "body_en")}}
	build, err := strconv.Atoi(strings.TrimSpace(c.FormValue("build_number")))
	if err != nil {
		return in, apperr.Field("build_number", "build_number must be a whole number")
	}
	in.BuildNumber = build
	if v := strings.TrimSpace(c.FormValue("order")); v != "" {
		order, err := consoleOrder("order", v)
		if err != nil {
			return in, err
		}
		in.Order = &order
	}
	if in.ImageKey, err = s.consoleImage(c, "image"); err != nil {
		return in, err
	}
	return in, nil
}

// consoleDeleteWhatsNew deletes a card through the what's-new service, audited.
func (s *Server) consoleDeleteWhatsNew(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	id, err := url.PathUnescape(c.Params("card_id"))
	if err != nil {
		return apperr.New(apperr.NotFound, "what's-new card not found")
	}
	var before *whatsnew.Card
	items, err := s.deps.WhatsNew.List(ctx, p, "")
	if err != nil {
		return err
	}
	for i := range items {
		if items[i].ID == id {
			before = &items[i]
		}
	}
	if before == nil {
		return apperr.New(apperr.NotFound, "what's-new card not found")
	}
	if err := s.deps.WhatsNew.Delete(ctx, p, id); err != nil {
		return err
	}
	s.audit(c, p, "whatsnew.delete", id, before, nil)
	return consoleDone(c, "/console/whats-new?app="+url.QueryEscape(before.AppID))
}
