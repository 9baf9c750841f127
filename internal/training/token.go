package training

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

// sign returns the credential of a playback URL: "<revision>.<expiry unix>.<MAC>", the
// revision (a tus upload id, which may hold "+" or "/") in unpadded base64url.
func (s *Service) sign(videoID, rev string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return base64.RawURLEncoding.EncodeToString([]byte(rev)) + "." + exp + "." + s.mac(videoID, rev, exp)
}

func (s *Service) mac(videoID, rev, exp string) string {
	m := hmac.New(sha256.New, s.PlaybackKey)
	m.Write([]byte("training playback v1\x00" + videoID + "\x00" + rev + "\x00" + exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// verify checks a playback credential and returns its revision and expiry. A forged or expired
// one is forbidden: the player should ask for a new playback.
func (s *Service) verify(videoID, token string) (string, time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", time.Time{}, apperr.New(apperr.Forbidden, "the playback URL is not valid")
	}
	revBytes, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", time.Time{}, apperr.New(apperr.Forbidden, "the playback URL is not valid")
	}
	rev, exp, mac := string(revBytes), parts[1], parts[2]
	if !hmac.Equal([]byte(mac), []byte(s.mac(videoID, rev, exp))) {
		return "", time.Time{}, apperr.New(apperr.Forbidden, "the playback URL is not valid")
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", time.Time{}, apperr.New(apperr.Forbidden, "the playback URL is not valid")
	}
	expires := time.Unix(unix, 0).UTC()
	if !s.Now.UTC().Before(expires) {
		return "", time.Time{}, apperr.New(apperr.Forbidden, "the playback URL has expired; start the playback again")
	}
	return rev, expires, nil
}
