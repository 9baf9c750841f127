package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

const refreshTokenBytes = 32

// Causes of a failed refresh, kept for logs; the client sees one message for all of them.
var (
	errMalformedRefresh = errors.New("malformed refresh token")
	errUnknownRefresh   = errors.New("unknown refresh token")
	errExpiredRefresh   = errors.New("refresh token expired")
	errNoSession        = errors.New("session not found")
	errWrongDevice      = errors.New("refresh token presented by another device")
	errSessionEnded     = errors.New("session revoked or expired")
	errRefreshReuse     = errors.New("refresh token reused: session revoked")
)

func badRefresh(cause error) error {
	return apperr.Wrap(cause, apperr.Unauthorized, "invalid or expired refresh token")
}

// hashRefreshToken returns the stored id of a refresh token: base64url(SHA-256(raw bytes)). A
// plain hash suffices because the token is 256 random bits, not a guessable password.
func hashRefreshToken(token string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != refreshTokenBytes {
		return "", errMalformedRefresh
	}
	sum := sha256.Sum256(raw)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// Refresh exchanges a refresh token for a new pair and kills the old token (rotation). Presenting
// an already used token is taken as theft, since only one party can have used it rightfully: the
// whole session is revoked, cutting off whoever holds its newest token. It returns invalid for a
// malformed device id and unauthorized for everything else: unknown, expired or reused tokens,
// another device, an ended session, or a disabled user.
//
// Each token is consumed by a Claim (an insert on its hash), the one write that is atomic on the
// embedded FerretDB too, so of any number of concurrent refreshes with one token exactly one wins.
func (s *Sessions) Refresh(ctx context.Context, refreshToken, deviceID string) (*TokenPair, error) {
	if err := ValidateDeviceID(deviceID); err != nil {
		return nil, err
	}
	hash, err := hashRefreshToken(refreshToken)
	if err != nil {
		return nil, badRefresh(err)
	}
	now := s.Now.Stored()
	var rt refreshDoc
	if err := s.coll(refreshTokensColl).FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&rt); err != nil {
		if mongodb.IsNotFound(err) {
			return nil, badRefresh(errUnknownRefresh)
		}
		return nil, fmt.Errorf("refresh: %w", mongodb.Translate(err, "refresh token"))
	}
	if !now.Before(rt.ExpiresAt) {
		return nil, badRefresh(errExpiredRefresh)
	}
	// Everything that can reject the request is checked before the token is consumed, so that a
	// wrong device or a database hiccup does not burn the rightful client's token.
	sess, err := s.loadSession(ctx, rt.SessionID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return nil, badRefresh(errNoSession)
	case err != nil:
		return nil, fmt.Errorf("refresh: %w", err)
	case sess.DeviceID != deviceID:
		return nil, badRefresh(errWrongDevice)
	case !sess.active(now):
		return nil, badRefresh(errSessionEnded)
	}
	acc, err := s.Accounts.Account(ctx, sess.UserID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return nil, badRefresh(errNoAccount)
	case err != nil:
		return nil, fmt.Errorf("refresh: load account: %w", err)
	case !acc.Active:
		return nil, badRefresh(errDisabled)
	}

	won, err := mongodb.Claim(ctx, s.coll(refreshUsesColl), hash, bson.D{
		{Key: "session_id", Value: sess.ID}, {Key: "used_at", Value: now}, {Key: "expires_at", Value: rt.ExpiresAt},
	})
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	if !won {
		if err := s.revoke(ctx, sess.UserID, []string{sess.ID}); err != nil {
			return nil, fmt.Errorf("refresh: revoke session after token reuse: %w", err)
		}
		return nil, badRefresh(errRefreshReuse)
	}

	refreshExp := now.Add(s.refreshTTL())
	pair, err := s.touchAndIssue(ctx, acc, sess, now, refreshExp)
	if err != nil {
		// The token is not spent if no new one was issued: without this, the client's retry
		// after a database hiccup lost the claim and revoked the session as a stolen token's.
		if _, uerr := s.coll(refreshUsesColl).DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: hash}}); uerr != nil {
			return nil, fmt.Errorf("refresh: %w (and the token stays spent: %v)", err, mongodb.Translate(uerr, "refresh token"))
		}
		return nil, fmt.Errorf("refresh: %w", err)
	}
	return pair, nil
}

func (s *Sessions) touchAndIssue(ctx context.Context, acc *Account, sess *sessionDoc, now, refreshExp time.Time) (*TokenPair, error) {
	if err := s.touch(ctx, sess.ID, now, refreshExp); err != nil {
		return nil, err
	}
	return s.issue(ctx, acc, sess, refreshExp)
}

// issue stores a new refresh token for sess and signs an access token with acc's current roles,
// so role changes reach the client at its next refresh; Authenticate goes by the cached user
// state, which issue updates for this instance.
func (s *Sessions) issue(ctx context.Context, acc *Account, sess *sessionDoc, refreshExp time.Time) (*TokenPair, error) {
	refresh, err := randomToken(refreshTokenBytes)
	if err != nil {
		return nil, fmt.Errorf("refresh token: %w", err)
	}
	hash, err := hashRefreshToken(refresh)
	if err != nil {
		return nil, err
	}
	doc := refreshDoc{ID: hash, SessionID: sess.ID, UserID: sess.UserID, ExpiresAt: refreshExp}
	if _, err := s.coll(refreshTokensColl).InsertOne(ctx, doc); err != nil {
		return nil, fmt.Errorf("store refresh token: %w", mongodb.Translate(err, "refresh token"))
	}
	access, accessExp, err := s.Tokens.Issue(Principal{
		UserID: sess.UserID, Roles: acc.Roles, Department: acc.Department,
		SessionID: sess.ID, DeviceID: sess.DeviceID, PasswordChangeRequired: acc.MustChangePassword,
	})
	if err != nil {
		return nil, err
	}
	s.remember(sess, acc, refreshExp)
	return &TokenPair{
		AccessToken: access, AccessExpiresAt: accessExp,
		RefreshToken: refresh, RefreshExpiresAt: refreshExp,
		SessionID: sess.ID, PasswordChangeRequired: acc.MustChangePassword, UserID: sess.UserID,
	}, nil
}

// touch records a refresh and extends the session. It holds the session's lock because the
// embedded FerretDB rewrites whole documents: an unserialized update could undo a concurrent
// revocation of the same session.
func (s *Sessions) touch(ctx context.Context, id string, now, expiresAt time.Time) error {
	unlock := s.DB.Lock("session:" + id)
	defer unlock()
	_, err := s.coll(sessionsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "last_used_at", Value: now}, {Key: "expires_at", Value: expiresAt},
	}}})
	if err != nil {
		return fmt.Errorf("update session %s: %w", id, mongodb.Translate(err, "session"))
	}
	return nil
}
