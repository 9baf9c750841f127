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

// RefreshRetryGrace is how long after a refresh its token may be presented once more by its
// device and still get a new pair, provided the token issued for it has not been used: a phone
// whose answer was lost on a flaky network retries with the token it still holds, and without
// this the retry was taken as theft and the user was logged out. The pair issued for the lost
// answer stops working; presenting it later is taken as theft (the session is revoked).
const RefreshRetryGrace = time.Minute

// Causes of a failed refresh, kept for logs; the client sees one message for all of them.
var (
	errMalformedRefresh = errors.New("malformed refresh token")
	errUnknownRefresh   = errors.New("unknown refresh token")
	errExpiredRefresh   = errors.New("refresh token expired")
	errNoSession        = errors.New("session not found")
	errWrongDevice      = errors.New("refresh token presented by another device")
	errSessionEnded     = errors.New("session revoked or expired")
	errRefreshReuse     = errors.New("refresh token reused: session revoked")
	errClaimGone        = errors.New("refresh token claim released while read")
)

// refreshUseDoc is the Claim that consumed a refresh token.
type refreshUseDoc struct {
	ID        string    `bson:"_id"`
	SessionID string    `bson:"session_id"`
	UsedAt    time.Time `bson:"used_at"`
	// Child is the hash of the token issued for this use; empty on a superseded token's mark.
	Child string `bson:"child,omitempty"`
	// Superseded marks a token that was never used but replaced by a retry of its parent.
	Superseded bool `bson:"superseded,omitempty"`
}

func badRefresh(cause error) error {
	return apperr.Wrap(cause, apperr.Unauthorized, "invalid or expired refresh token")
}

// newRefreshToken returns a fresh refresh token and its stored id.
func newRefreshToken() (token, hash string, err error) {
	if token, err = randomToken(refreshTokenBytes); err != nil {
		return "", "", fmt.Errorf("refresh token: %w", err)
	}
	hash, err = hashRefreshToken(token)
	return token, hash, err
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

	next, nextHash, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	won, err := mongodb.Claim(ctx, s.coll(refreshUsesColl), hash, bson.D{
		{Key: "session_id", Value: sess.ID}, {Key: "used_at", Value: now}, {Key: "expires_at", Value: rt.ExpiresAt},
		{Key: "child", Value: nextHash},
	})
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	if !won {
		return s.retryOrRevoke(ctx, hash, acc, sess, now)
	}
	pair, err := s.touchAndIssue(ctx, acc, sess, now, now.Add(s.sessionTTL(sess)), next)
	if err != nil {
		// The token is not spent if no new one was issued: without this, the client's retry
		// after a database hiccup lost the claim and revoked the session as a stolen token's.
		// Unless a retry took over meanwhile (it superseded the token this exchange would have
		// issued, and holds a new pair): then the token stays spent, or it would start a second
		// chain next to the retry's. Claiming that child first settles which of the two it is.
		superseded, cerr := mongodb.Claim(context.WithoutCancel(ctx), s.coll(refreshUsesColl), nextHash, bson.D{
			{Key: "session_id", Value: sess.ID}, {Key: "used_at", Value: now},
			{Key: "expires_at", Value: now.Add(s.sessionTTL(sess))}, {Key: "superseded", Value: true},
		})
		if cerr != nil || !superseded {
			return nil, fmt.Errorf("refresh: %w", err)
		}
		return nil, s.release(ctx, hash, fmt.Errorf("refresh: %w", err))
	}
	return pair, nil
}

// retryOrRevoke answers a token that was already used. Within RefreshRetryGrace of that use, by
// the same session (hence device), and while the token issued for it is unused, it is a retry
// after a lost answer: the issued token is marked superseded (a Claim, so of several retries one
// wins) and a new pair is issued. Anything else is taken as theft and revokes the session.
func (s *Sessions) retryOrRevoke(ctx context.Context, hash string, acc *Account, sess *sessionDoc, now time.Time) (*TokenPair, error) {
	var use refreshUseDoc
	err := s.coll(refreshUsesColl).FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&use)
	switch {
	case mongodb.IsNotFound(err):
		// The winner failed and released the claim while this request read it: the token is
		// usable again, but not by this request; the client retries.
		return nil, badRefresh(errClaimGone)
	case err != nil:
		return nil, fmt.Errorf("refresh: read token use: %w", mongodb.Translate(err, "refresh token"))
	}
	if use.Child != "" && !use.Superseded && use.SessionID == sess.ID &&
		!now.Before(use.UsedAt) && now.Sub(use.UsedAt) <= RefreshRetryGrace {
		next, _, err := newRefreshToken()
		if err != nil {
			return nil, err
		}
		won, err := mongodb.Claim(ctx, s.coll(refreshUsesColl), use.Child, bson.D{
			{Key: "session_id", Value: sess.ID}, {Key: "used_at", Value: now},
			{Key: "expires_at", Value: now.Add(s.sessionTTL(sess))}, {Key: "superseded", Value: true},
		})
		if err != nil {
			return nil, fmt.Errorf("refresh: %w", err)
		}
		if won {
			pair, err := s.touchAndIssue(ctx, acc, sess, now, now.Add(s.sessionTTL(sess)), next)
			if err != nil {
				return nil, s.release(ctx, use.Child, fmt.Errorf("refresh retry: %w", err))
			}
			return pair, nil
		}
	}
	if err := s.end(ctx, sess.UserID, []liveSession{{ID: sess.ID, DeviceID: sess.DeviceID}}); err != nil {
		return nil, fmt.Errorf("refresh: revoke session after token reuse: %w", err)
	}
	return nil, badRefresh(errRefreshReuse)
}

// release deletes the Claim on a token whose exchange failed before a new token was issued, and
// returns cause (annotated if the claim could not be released).
func (s *Sessions) release(ctx context.Context, hash string, cause error) error {
	if _, err := s.coll(refreshUsesColl).DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: hash}}); err != nil {
		return fmt.Errorf("%w (and the token stays spent: %v)", cause, mongodb.Translate(err, "refresh token"))
	}
	return cause
}

func (s *Sessions) touchAndIssue(ctx context.Context, acc *Account, sess *sessionDoc, now, refreshExp time.Time, refresh string) (*TokenPair, error) {
	if s.beforeIssue != nil {
		s.beforeIssue()
	}
	if err := s.touch(ctx, sess.ID, now, refreshExp); err != nil {
		return nil, err
	}
	return s.issue(ctx, acc, sess, refreshExp, refresh)
}

// issue stores refresh (a token from newRefreshToken) for sess and signs an access token with acc's current roles,
// so role changes reach the client at its next refresh; Authenticate goes by the cached user
// state, which issue updates for this instance.
func (s *Sessions) issue(ctx context.Context, acc *Account, sess *sessionDoc, refreshExp time.Time, refresh string) (*TokenPair, error) {
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
