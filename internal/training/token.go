package training

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

// sign returns the credential of a playback URL of d: "<revision>.<expiry unix>.<MAC>", the
// revision (a tus upload id, which may hold "+" or "/") in unpadded base64url. The MAC also
// covers the video's audience, so narrowing it (roles, departments) ends the playbacks handed
// out before at once, not when they expire (up to 2 hours later).
func (s *Service) sign(d *videoDoc, rev string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return base64.RawURLEncoding.EncodeToString([]byte(rev)) + "." + exp + "." + s.mac(d.ID, rev, exp, audience(d))
}

func (s *Service) mac(videoID, rev, exp, aud string) string {
	m := hmac.New(sha256.New, s.PlaybackKey)
	m.Write([]byte("training playback v2\x00" + videoID + "\x00" + rev + "\x00" + exp + "\x00" + aud))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// audience is a canonical form of who may see d: its roles and departments, sorted.
func audience(d *videoDoc) string {
	roles, depts := slices.Clone(d.Roles), slices.Clone(d.Departments)
	slices.Sort(roles)
	slices.Sort(depts)
	return strings.Join(roles, "\x01") + "\x00" + strings.Join(depts, "\x01")
}

// verify checks a playback credential of video d and returns its revision and expiry. A forged
// or expired one, or one handed out for another audience, is forbidden: the player should ask
// for a new playback.
func (s *Service) verify(d *videoDoc, token string) (string, time.Time, error) {
	videoID := d.ID
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", time.Time{}, apperr.New(apperr.Forbidden, "the playback URL is not valid")
	}
	revBytes, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", time.Time{}, apperr.New(apperr.Forbidden, "the playback URL is not valid")
	}
	rev, exp, mac := string(revBytes), parts[1], parts[2]
	if !hmac.Equal([]byte(mac), []byte(s.mac(videoID, rev, exp, audience(d)))) {
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
