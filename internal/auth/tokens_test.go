package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/apperr"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func newTokens(t *testing.T, now func() time.Time, keys ...ed25519.PrivateKey) *Tokens {
	t.Helper()
	ks, err := NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return &Tokens{Keys: ks, Issuer: "mportal", Audience: "mportal-app", TTL: 15 * time.Minute, Now: now}
}

var testPrincipal = Principal{
	UserID:                 "u1",
	Roles:                  []Role{RoleEmployee, RoleApprover},
	Department:             "R&D",
	SessionID:              "s1",
	DeviceID:               "dev-1",
	PasswordChangeRequired: true,
}

// forge signs a token outside Tokens.Issue so tests can build tokens Issue never would.
func forge(t *testing.T, now time.Time, mutate func(*accessClaims), method jwt.SigningMethod, key any, kid string) string {
	t.Helper()
	c := accessClaims{
		Roles: []Role{RoleEmployee}, SessionID: "s1", DeviceID: "dev-1",
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "mportal", Subject: "u1", Audience: jwt.ClaimStrings{"mportal-app"},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)), ID: "j1",
		},
	}
	if mutate != nil {
		mutate(&c)
	}
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokensRoundTrip(t *testing.T) {
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	tokens := newTokens(t, func() time.Time { return now }, newKey(t))
	tok, exp, err := tokens.Issue(testPrincipal)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("returns the expiry", func(t *testing.T) {
		if !exp.Equal(now.Add(15 * time.Minute)) {
			t.Fatalf("expiresAt = %v", exp)
		}
	})
	t.Run("carries every principal field", func(t *testing.T) {
		p, err := tokens.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		want := testPrincipal
		want.ExpiresAt = exp
		if diff := cmp.Diff(want, *p); diff != "" {
			t.Fatalf("principal (-want +got):\n%s", diff)
		}
	})
	t.Run("names the signing key in the header", func(t *testing.T) {
		parsed, _, err := jwt.NewParser().ParseUnverified(tok, &accessClaims{})
		if err != nil {
			t.Fatal(err)
		}
		if parsed.Header["kid"] != tokens.Keys.SigningKID() || parsed.Header["alg"] != "EdDSA" {
			t.Fatalf("header %v", parsed.Header)
		}
	})
	t.Run("gives every token a distinct jti", func(t *testing.T) {
		a, _, _ := tokens.Issue(testPrincipal)
		b, _, _ := tokens.Issue(testPrincipal)
		var ca, cb accessClaims
		_, _, _ = jwt.NewParser().ParseUnverified(a, &ca)
		_, _, _ = jwt.NewParser().ParseUnverified(b, &cb)
		if ca.ID == "" || ca.ID == cb.ID {
			t.Fatalf("jti %q and %q", ca.ID, cb.ID)
		}
	})
}

func TestTokensRejects(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	key, other := newKey(t), newKey(t)
	tokens := newTokens(t, func() time.Time { return now }, key)
	kid := tokens.Keys.SigningKID()
	pub := key.Public().(ed25519.PublicKey)
	valid := forge(t, now, nil, jwt.SigningMethodEdDSA, key, kid)

	tests := []struct {
		name  string
		token string
	}{
		{"rejects alg none", forge(t, now, nil, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid)},
		{"rejects HS256 keyed with the public key (alg confusion)", forge(t, now, nil, jwt.SigningMethodHS256, []byte(pub), kid)},
		{"rejects an unknown kid", forge(t, now, nil, jwt.SigningMethodEdDSA, key, "not-a-key")},
		{"rejects a missing kid", forge(t, now, nil, jwt.SigningMethodEdDSA, key, "")},
		{"rejects an expired token", forge(t, now, func(c *accessClaims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(-time.Hour))
			c.NotBefore = c.IssuedAt
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
		}, jwt.SigningMethodEdDSA, key, kid)},
		{"rejects a token without exp", forge(t, now, func(c *accessClaims) { c.ExpiresAt = nil }, jwt.SigningMethodEdDSA, key, kid)},
		{"rejects a token not yet valid", forge(t, now, func(c *accessClaims) {
			c.NotBefore = jwt.NewNumericDate(now.Add(10 * time.Minute))
		}, jwt.SigningMethodEdDSA, key, kid)},
		{"rejects a token issued in the future", forge(t, now, func(c *accessClaims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(10 * time.Minute))
		}, jwt.SigningMethodEdDSA, key, kid)},
		{"rejects a wrong issuer", forge(t, now, func(c *accessClaims) { c.Issuer = "evil" }, jwt.SigningMethodEdDSA, key, kid)},
		{"rejects a wrong audience", forge(t, now, func(c *accessClaims) { c.Audience = jwt.ClaimStrings{"other-app"} }, jwt.SigningMethodEdDSA, key, kid)},
		{"rejects a tampered payload", tamperRoles(t, valid)},
		{"rejects a token signed by another key under a known kid", forge(t, now, nil, jwt.SigningMethodEdDSA, other, kid)},
		{"rejects a token without a session", forge(t, now, func(c *accessClaims) { c.SessionID = "" }, jwt.SigningMethodEdDSA, key, kid)},
		{"rejects garbage", "not.a.jwt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tokens.Verify(tt.token)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Unauthorized || e.Message != "invalid or expired access token" || e.Err == nil {
				t.Fatalf("error %#v", err)
			}
		})
	}
	t.Run("accepts the untampered token", func(t *testing.T) {
		if _, err := tokens.Verify(valid); err != nil {
			t.Fatal(err)
		}
	})
}

// tamperRoles rewrites the payload to grant admin and keeps the original signature.
func tamperRoles(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	payload["roles"] = []string{"employee", "admin"}
	raw, err = json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestTokensKeyRotation(t *testing.T) {
	now := time.Now
	oldKey, newKeyPriv := newKey(t), newKey(t)
	before := newTokens(t, now, oldKey)
	during := newTokens(t, now, newKeyPriv, oldKey)
	after := newTokens(t, now, newKeyPriv)

	oldToken, _, err := before.Issue(testPrincipal)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("verifies an old token while the old key is still listed", func(t *testing.T) {
		if _, err := during.Verify(oldToken); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("signs new tokens with the new key", func(t *testing.T) {
		tok, _, err := during.Issue(testPrincipal)
		if err != nil {
			t.Fatal(err)
		}
		parsed, _, _ := jwt.NewParser().ParseUnverified(tok, &accessClaims{})
		if parsed.Header["kid"] != Thumbprint(newKeyPriv.Public().(ed25519.PublicKey)) {
			t.Fatalf("kid %v", parsed.Header["kid"])
		}
		if _, err := after.Verify(tok); err != nil {
			t.Fatalf("new token fails once the old key is gone: %v", err)
		}
	})
	t.Run("rejects old tokens once the old key is removed", func(t *testing.T) {
		if _, err := after.Verify(oldToken); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestTokensNeedIssuerAndAudience(t *testing.T) {
	tokens := newTokens(t, nil, newKey(t))
	tokens.Audience = ""
	if _, _, err := tokens.Issue(testPrincipal); err == nil {
		t.Fatal("issued without an audience")
	}
	if _, err := tokens.Verify("x.y.z"); err == nil || apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("misconfiguration reported as %v", err)
	}
}
