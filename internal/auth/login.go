package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// LoginInput is a password login from one device.
type LoginInput struct {
	Login    string // employee number or e-mail, any case
	Password string
	DeviceID string
	IP       string // the client address, for throttling
	// Idle, when set, ends the session after this long without a refresh instead of
	// Sessions.RefreshTTL: each refresh extends it by Idle (the console's idle sign-out).
	Idle time.Duration
}

// TokenPair is what a login or a refresh hands to the client.
type TokenPair struct {
	AccessToken            string
	AccessExpiresAt        time.Time
	RefreshToken           string
	RefreshExpiresAt       time.Time
	SessionID              string
	PasswordChangeRequired bool
	UserID                 string
}

// Causes of a failed login, kept in the error for logs only: the client always sees the same
// message, so it cannot tell which accounts exist or are disabled.
var (
	errNoAccount       = errors.New("no such account")
	errNoPassword      = errors.New("account has no password")
	errBadPassword     = errors.New("wrong password")
	errDisabled        = errors.New("account is disabled")
	errLongPassword    = errors.New("password over the length limit")
	errPasswordChanged = errors.New("the password or the account changed during the login")
)

func badLogin(cause error) error {
	return apperr.Wrap(cause, apperr.Unauthorized, "invalid login or password")
}

// Login checks a password and opens a session on the device. It returns invalid for a missing
// login, password or malformed device id, rate_limited (with RetryAfter) after too many failures,
// unavailable (with RetryAfter) when too many password checks are already running and waiting
// (see HashConcurrency), and unauthorized "invalid login or password" for an unknown, disabled or
// password-less user and for a wrong password alike.
//
// Throttling counts per login string and per IP: a user's employee number and e-mail have separate
// budgets (at most twice the attempts), so that a lock-out never reveals which logins belong to
// one account.
func (s *Sessions) Login(ctx context.Context, in LoginInput) (*TokenPair, error) {
	login := strings.TrimSpace(in.Login)
	switch {
	case login == "":
		return nil, apperr.Field("login", "login is required")
	case utf8.RuneCountInString(login) > MaxLoginLen:
		// No account has one this long, and each failure keeps its login in the throttle's
		// memory for the window: 8 MiB logins from a form filled it at hundreds of MiB a second.
		return nil, apperr.Field("login", "login must be at most %d characters", MaxLoginLen)
	case in.Password == "":
		return nil, apperr.Field("password", "password is required")
	}
	if err := ValidateDeviceID(in.DeviceID); err != nil {
		return nil, err
	}
	account := NormalizeAccount(login)
	attempt, wait, ok := s.Throttle.Begin(account, in.IP)
	if !ok {
		return nil, rateLimited(wait)
	}
	defer attempt.End()
	acc, err := s.Accounts.FindByLogin(ctx, login)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return nil, fmt.Errorf("login: find account: %w", err)
	}
	release, err := s.gate().enter(ctx)
	if err != nil {
		return nil, err
	}
	cause := s.checkPassword(acc, in.Password)
	release()
	if cause != nil {
		attempt.Fail()
		return nil, badLogin(cause)
	}
	attempt.Succeed()

	now := s.Now.Stored()
	sess := &sessionDoc{
		UserID: acc.ID, DeviceID: in.DeviceID,
		CreatedAt: now, LastUsedAt: now, Idle: in.Idle,
	}
	sess.ExpiresAt = now.Add(s.sessionTTL(sess))
	if sess.ID, err = randomToken(16); err != nil {
		return nil, fmt.Errorf("login: session id: %w", err)
	}
	if _, err := s.coll(sessionsColl).InsertOne(ctx, sess); err != nil {
		return nil, fmt.Errorf("login: create session: %w", mongodb.Translate(err, "session"))
	}
	if err := s.stillValid(ctx, acc, sess.ID); err != nil {
		return nil, err
	}
	refresh, _, err := newRefreshToken()
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	pair, err := s.issue(ctx, acc, sess, sess.ExpiresAt, refresh)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if s.Usage != nil {
		s.Usage.Record(acc.ID, in.DeviceID, "sign_in", nil)
	}
	return pair, nil
}

// MaxLoginLen bounds a login in characters (an employee number or an e-mail address: RFC 5321
// allows 254 octets), so at most 1,280 bytes of it are kept by the throttle.
const MaxLoginLen = 320

// stillValid re-reads acc after a login inserted session sessionID, and revokes that session
// when the password or the account changed meanwhile. A reset or a password change writes the
// new hash, then revokes the sessions it lists: a login that checked the old hash and inserted
// its session after that list was made kept a session the change meant to end. Reading after the
// insert closes the gap: a change written before this read is seen here, and one written after
// it lists this session.
func (s *Sessions) stillValid(ctx context.Context, acc *Account, sessionID string) error {
	now, err := s.Accounts.Account(ctx, acc.ID)
	if err == nil && now.Active && now.PasswordHash == acc.PasswordHash {
		return nil
	}
	if rerr := s.revoke(context.WithoutCancel(ctx), acc.ID, []string{sessionID}); rerr != nil {
		return fmt.Errorf("login: revoke a session opened during a password change: %w", rerr)
	}
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return fmt.Errorf("login: read account again: %w", err)
	}
	return badLogin(errPasswordChanged)
}

// checkPassword returns nil when password opens acc, and otherwise why not. It always runs one
// argon2 verification, against a dummy hash when there is no real one, so that the response time
// does not reveal whether an account exists.
func (s *Sessions) checkPassword(acc *Account, password string) error {
	if len(password) > MaxPasswordLen {
		_, _ = VerifyPassword("", s.dummy())
		return errLongPassword
	}
	if acc == nil || acc.PasswordHash == "" {
		_, _ = VerifyPassword(password, s.dummy())
		if acc == nil {
			return errNoAccount
		}
		return errNoPassword
	}
	ok, err := VerifyPassword(password, acc.PasswordHash)
	switch {
	case err != nil:
		return fmt.Errorf("stored hash of user %s: %w", acc.ID, err)
	case !ok:
		return errBadPassword
	case !acc.Active:
		return errDisabled
	}
	return nil
}

// dummy returns a hash of a random-looking password at the configured cost.
func (s *Sessions) dummy() string {
	s.dummyOnce.Do(func() {
		s.dummyHash, _ = HashPassword("mportal timing equalizer", s.argon())
	})
	return s.dummyHash
}
