package directory

import (
	"context"
	"strings"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// MeUpdate is a user's change of their own settings: nil fields are left alone, and an empty
// string restores the default.
type MeUpdate struct {
	Locale   *string `json:"locale"`
	Timezone *string `json:"timezone"`
}

// Me returns the user's own record; not_found if the user no longer exists.
func (s *Users) Me(ctx context.Context, userID string) (*User, error) {
	return s.load(ctx, userID)
}

// Name returns a user's display name: from the in-memory view when the Users has one and it is
// loaded (it mirrors every write of this process; a user that another process added since the
// view's last reload is read from the database), else from the database. It returns not_found
// for an unknown user and unavailable when the directory cannot be read.
func (s *Users) Name(ctx context.Context, userID string) (string, error) {
	if name, ok := s.View.userName(userID); ok {
		return name, nil
	}
	u, err := s.load(ctx, userID)
	if err != nil {
		return "", err
	}
	return u.Name, nil
}

// UpdateMe changes the caller's own locale and time zone. It returns unauthorized without a
// principal, invalid for a bad value, and not_found if the user no longer exists.
func (s *Users) UpdateMe(ctx context.Context, p *auth.Principal, in MeUpdate) (*User, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	unlock := s.DB.Lock(lockKey(p.UserID))
	defer unlock()
	old, err := s.load(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	u := *old
	if in.Locale != nil {
		if u.Locale, err = normalizeLocale(strings.TrimSpace(*in.Locale), "locale"); err != nil {
			return nil, err
		}
	}
	if in.Timezone != nil {
		if u.Timezone, err = normalizeTimezone(strings.TrimSpace(*in.Timezone), "timezone"); err != nil {
			return nil, err
		}
	}
	if _, err := s.update(ctx, old, &u); err != nil {
		return nil, err
	}
	return &u, nil
}
