package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/push"
)

// notificationPrefs is push.Prefs on the wire: off is always a list, and unset times and zone
// are null rather than empty strings.
type notificationPrefs struct {
	Off        []push.Category `json:"off"`
	QuietStart *string         `json:"quiet_start"`
	QuietEnd   *string         `json:"quiet_end"`
	Timezone   *string         `json:"timezone"`
}

func prefsView(p push.Prefs) notificationPrefs {
	orNull := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return notificationPrefs{Off: nonNil(p.Off), QuietStart: orNull(p.QuietStart), QuietEnd: orNull(p.QuietEnd),
		Timezone: orNull(p.Timezone)}
}

func (v notificationPrefs) prefs() push.Prefs {
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	return push.Prefs{Off: v.Off, QuietStart: str(v.QuietStart), QuietEnd: str(v.QuietEnd), Timezone: str(v.Timezone)}
}

func (s *Server) getNotificationPrefs(c *fiber.Ctx) error {
	p, err := s.deps.Prefs.Get(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(prefsView(p))
}

func (s *Server) setNotificationPrefs(c *fiber.Ctx) error {
	var in notificationPrefs
	if err := s.bind(c, &in); err != nil {
		return err
	}
	// The store checks the zone only together with quiet hours; a zone sent alone is checked
	// here, so that stored preferences never name a zone that does not exist.
	if tz := in.Timezone; tz != nil && *tz != "" {
		if _, err := time.LoadLocation(*tz); err != nil || *tz == "Local" {
			return apperr.Field("timezone", "timezone must be an IANA time zone name such as Asia/Shanghai")
		}
	}
	p, err := s.deps.Prefs.Set(c.UserContext(), principal(c), in.prefs())
	if err != nil {
		return err
	}
	return c.JSON(prefsView(p))
}
