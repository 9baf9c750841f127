package api

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// consoleCookie holds the access token of a console session: HttpOnly, SameSite=Strict, on
// /console only, so neither the API nor the install page accepts it.
const consoleCookie = "mportal_console"

// consoleRefreshCookie holds the refresh token of a console session, with the same attributes:
// consoleAuthenticate renews the session with it shortly before the access token expires.
const consoleRefreshCookie = "mportal_console_refresh"

// ConsoleIdle is how long a console session lives without being renewed: the console signs out
// a browser left without a request for this long. A request renews the session when its access
// token has less than ConsoleRenewBefore left, so the sign-out comes between ConsoleIdle minus
// (access token lifetime - ConsoleRenewBefore) and ConsoleIdle after the last request.
const ConsoleIdle = 8 * time.Hour

// ConsoleRenewBefore is how close to its expiry an access token gets renewed. Renewing only
// then (not on every request) keeps the refreshes, and the chance of tabs refreshing at once,
// to one per token lifetime.
const ConsoleRenewBefore = 5 * time.Minute

// errNoConsoleSession is a request without console cookies: the sign-in form, no message.
var errNoConsoleSession = apperr.New(apperr.Unauthorized, "not signed in")

// consoleSession returns the principal of the request's console session. When the access token
// is missing, expired or close to expiry and the request carries the refresh token, the session
// is renewed (Sessions.Refresh) and both cookies are set again. It returns unauthorized when the
// session is over (expired, idle, revoked, signed out).
func (s *Server) consoleSession(c *fiber.Ctx) (*auth.Principal, error) {
	ctx := c.UserContext()
	access, refresh := c.Cookies(consoleCookie), c.Cookies(consoleRefreshCookie)
	if access == "" && refresh == "" {
		return nil, errNoConsoleSession
	}
	var p *auth.Principal
	var err error = errNoConsoleSession
	if access != "" {
		p, err = s.deps.Sessions.Authenticate(ctx, access)
		switch {
		case err != nil && !apperr.Is(err, apperr.Unauthorized):
			return nil, err
		case err == nil && (refresh == "" || s.deps.Now.UTC().Add(ConsoleRenewBefore).Before(p.ExpiresAt)):
			return p, nil
		}
	}
	if refresh == "" {
		return nil, err
	}
	pair, rerr := s.consoleRenewals.renew(ctx, s.deps.Now.UTC(), refresh, func() (*auth.TokenPair, error) {
		// Other requests of the browser may wait for this exchange: it finishes even if
		// this request's client goes away.
		return s.deps.Sessions.Refresh(context.WithoutCancel(ctx), refresh, consoleDevice)
	})
	switch {
	case rerr == nil:
	case err == nil && !apperr.Is(rerr, apperr.Unauthorized):
		// The access token still works: the next request tries again.
		s.log.WarnContext(ctx, "console session renewal failed", "err", rerr)
		return p, nil
	default:
		return nil, rerr
	}
	s.setConsoleCookies(c, pair)
	return s.deps.Sessions.Authenticate(ctx, pair.AccessToken)
}

// setConsoleCookies gives the browser a console session's tokens; each cookie expires with its
// token.
func (s *Server) setConsoleCookies(c *fiber.Ctx, pair *auth.TokenPair) {
	now := s.deps.Now.UTC()
	s.setConsoleCookie(c, consoleCookie, pair.AccessToken, max(int(pair.AccessExpiresAt.Sub(now).Seconds()), 1))
	s.setConsoleCookie(c, consoleRefreshCookie, pair.RefreshToken, max(int(pair.RefreshExpiresAt.Sub(now).Seconds()), 1))
}

// clearConsoleCookies makes the browser forget the console session's cookies.
func (s *Server) clearConsoleCookies(c *fiber.Ctx) {
	s.setConsoleCookie(c, consoleCookie, "", -1)
	s.setConsoleCookie(c, consoleRefreshCookie, "", -1)
}

func (s *Server) setConsoleCookie(c *fiber.Ctx, name, value string, maxAge int) {
	c.Cookie(&fiber.Cookie{
		Name: name, Value: value, Path: "/console", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: strings.HasPrefix(s.deps.Config.PublicBaseURL, "https://"), MaxAge: maxAge,
	})
}

// consoleRenewals makes the tabs of one browser share a renewal. They send the same refresh
// token, and rotation lets only one exchange win: a second one within auth.RefreshRetryGrace
// gets a pair as a retry, but a third is taken as theft and revokes the session, and the
// browser keeps whichever answer's cookies arrive last, possibly the superseded pair. So on
// this instance one exchange runs per refresh token; the requests that present the token while
// it runs, or within RefreshRetryGrace after it (sent before their browser had the new
// cookies), get the same pair. A failed exchange is not remembered.
type consoleRenewals struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*consoleRenewal
}

type consoleRenewal struct {
	started time.Time
	done    chan struct{} // closed when pair and err are set
	pair    *auth.TokenPair
	err     error
}

func (r *consoleRenewal) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// renew returns the pair refresh gave for token now or within RefreshRetryGrace before now,
// calling it when there is none.
func (r *consoleRenewals) renew(ctx context.Context, now time.Time, token string, refresh func() (*auth.TokenPair, error)) (*auth.TokenPair, error) {
	key := sha256.Sum256([]byte(token))
	r.mu.Lock()
	if r.entries == nil {
		r.entries = map[[sha256.Size]byte]*consoleRenewal{}
	}
	for k, e := range r.entries {
		if e.finished() && now.Sub(e.started) > auth.RefreshRetryGrace {
			delete(r.entries, k)
		}
	}
	e, ok := r.entries[key]
	if !ok {
		e = &consoleRenewal{started: now, done: make(chan struct{})}
		r.entries[key] = e
	}
	r.mu.Unlock()
	if ok {
		select {
		case <-e.done:
			return e.pair, e.err
		case <-ctx.Done():
			return nil, apperr.Wrap(ctx.Err(), apperr.Unavailable, "the request ended while its session was renewed")
		}
	}
	e.pair, e.err = refresh()
	if e.err != nil {
		r.mu.Lock()
		delete(r.entries, key)
		r.mu.Unlock()
	}
	close(e.done)
	return e.pair, e.err
}
