package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
)

type loginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
	DeviceID string `json:"device_id"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
	DeviceID     string `json:"device_id"`
}

// tokenResponse is what login and refresh return.
type tokenResponse struct {
	AccessToken            string          `json:"access_token"`
	TokenType              string          `json:"token_type"`
	ExpiresIn              int64           `json:"expires_in"`
	RefreshToken           string          `json:"refresh_token"`
	RefreshExpiresIn       int64           `json:"refresh_expires_in"`
	SessionID              string          `json:"session_id"`
	PasswordChangeRequired bool            `json:"password_change_required"`
	User                   *directory.User `json:"user"`
}

func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	pair, err := s.deps.Sessions.Login(c.UserContext(), auth.LoginInput{
		Login: req.Login, Password: req.Password, DeviceID: req.DeviceID, IP: s.clientIPString(c),
	})
	if err != nil {
		return err
	}
	return s.sendTokens(c, pair)
}

func (s *Server) refresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	pair, err := s.deps.Sessions.Refresh(c.UserContext(), req.RefreshToken, req.DeviceID)
	if err != nil {
		return err
	}
	return s.sendTokens(c, pair)
}

func (s *Server) sendTokens(c *fiber.Ctx, pair *auth.TokenPair) error {
	user, err := s.deps.Directory.Me(c.UserContext(), pair.UserID)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	now := time.Now()
	return c.JSON(tokenResponse{
		AccessToken:            pair.AccessToken,
		TokenType:              "Bearer",
		ExpiresIn:              int64(pair.AccessExpiresAt.Sub(now).Round(time.Second).Seconds()),
		RefreshToken:           pair.RefreshToken,
		RefreshExpiresIn:       int64(pair.RefreshExpiresAt.Sub(now).Round(time.Second).Seconds()),
		SessionID:              pair.SessionID,
		PasswordChangeRequired: pair.PasswordChangeRequired,
		User:                   user,
	})
}

func (s *Server) logout(c *fiber.Ctx) error {
	if err := s.deps.Sessions.Logout(c.UserContext(), principal(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) listSessions(c *fiber.Ctx) error {
	sessions, err := s.deps.Sessions.ListSessions(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(sessions)})
}

func (s *Server) revokeSession(c *fiber.Ctx) error {
	if err := s.deps.Sessions.RevokeSession(c.UserContext(), principal(c), c.Params("session_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
