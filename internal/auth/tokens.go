package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/clock"
)

// DefaultAccessTTL is the access-token lifetime when Tokens.TTL is zero.
const DefaultAccessTTL = 15 * time.Minute

// clockLeeway tolerates small clock differences between replicas when checking exp, nbf and iat.
const clockLeeway = 5 * time.Second

// Tokens issues and verifies access tokens: short-lived JWTs signed with EdDSA (Ed25519) that carry
// the Principal. They are verified without a database read; Sessions.Authenticate adds the check
// that the session was not revoked.
type Tokens struct {
	Keys     *KeySet
	Issuer   string
	Audience string
	// TTL is the access-token lifetime; zero means DefaultAccessTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now clock.Func
}

// accessClaims is the token payload. Short claim names keep the header of every request small.
type accessClaims struct {
	Roles      []Role `json:"roles"`
	Department string `json:"dept,omitempty"`
	SessionID  string `json:"sid"`
	DeviceID   string `json:"did"`
	PwChange   bool   `json:"pwc,omitempty"`
	jwt.RegisteredClaims
}

func (t *Tokens) ttl() time.Duration {
	if t.TTL > 0 {
		return t.TTL
	}
	return DefaultAccessTTL
}

// check refuses a misconfigured Tokens: the jwt library skips the issuer and audience checks when
// they are empty, which would silently accept tokens minted for other services.
func (t *Tokens) check() error {
	if t.Keys == nil || t.Issuer == "" || t.Audience == "" {
		return errors.New("auth.Tokens needs Keys, Issuer and Audience")
	}
	return nil
}

// Issue signs an access token for p with the KeySet's signing key and returns it with its expiry.
func (t *Tokens) Issue(p Principal) (token string, expiresAt time.Time, err error) {
	if err := t.check(); err != nil {
		return "", time.Time{}, err
	}
	if p.UserID == "" || p.SessionID == "" || p.DeviceID == "" {
		return "", time.Time{}, errors.New("issue access token: user, session and device are required")
	}
	jti, err := randomToken(16)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue access token: %w", err)
	}
	now := t.Now.UTC().Truncate(time.Second) // JWT times are whole seconds
	expiresAt = now.Add(t.ttl())
	claims := accessClaims{
		Roles:      p.Roles,
		Department: p.Department,
		SessionID:  p.SessionID,
		DeviceID:   p.DeviceID,
		PwChange:   p.PasswordChangeRequired,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.Issuer,
			Subject:   p.UserID,
			Audience:  jwt.ClaimStrings{t.Audience},
			ExpiresAt: jwt.NewNumericDate(expiresAt),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti,
		},
	}
	key := t.Keys.signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = key.kid
	token, err = tok.SignedString(key.priv)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return token, expiresAt, nil
}

var (
	errNoKID      = errors.New("token has no kid header")
	errUnknownKID = errors.New("token kid is not a current key")
	errIncomplete = errors.New("token lacks sub, sid or did")
)

// Verify checks token's signature (EdDSA only, key chosen by kid), issuer, audience and validity
// window, and returns the Principal it carries. Every failure is the same unauthorized error, so a
// client learns nothing about why; the cause is kept in Err for logs.
func (t *Tokens) Verify(token string) (*Principal, error) {
	p, _, err := t.verify(token)
	return p, err
}

// verify is Verify that also returns the token's expiry.
func (t *Tokens) verify(token string) (*Principal, time.Time, error) {
	if err := t.check(); err != nil {
		return nil, time.Time{}, err
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(t.Issuer),
		jwt.WithAudience(t.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockLeeway),
		jwt.WithTimeFunc(t.Now.UTC),
	)
	var claims accessClaims
	_, err := parser.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if kid == "" {
			return nil, errNoKID
		}
		pub, ok := t.Keys.publicKey(kid)
		if !ok {
			return nil, errUnknownKID
		}
		return pub, nil
	})
	if err == nil && (claims.Subject == "" || claims.SessionID == "" || claims.DeviceID == "") {
		err = errIncomplete
	}
	if err != nil {
		return nil, time.Time{}, apperr.Wrap(err, apperr.Unauthorized, "invalid or expired access token")
	}
	return &Principal{
		UserID:                 claims.Subject,
		Roles:                  claims.Roles,
		Department:             claims.Department,
		SessionID:              claims.SessionID,
		DeviceID:               claims.DeviceID,
		PasswordChangeRequired: claims.PwChange,
		ExpiresAt:              claims.ExpiresAt.Time,
	}, claims.ExpiresAt.Time, nil
}

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
