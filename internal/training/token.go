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

// sign returns the credential of a playback URL of d: "<revision>.<expiry unix>.<audience
// digest>.<MAC>", the revision (a tus upload id, which may hold "+" or "/") in unpadded
// base64url. The audience digest (of the video's roles and departments) lets Playlist end the
// playbacks handed out before ops narrowed the audience, at once rather than when they expire
// (up to 2 hours later); the MAC covers it, so it is checked before anything is read.
func (s *Service) sign(d *videoDoc, rev string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	aud := audienceDigest(d)
	return base64.RawURLEncoding.EncodeToString([]byte(rev)) + "." + exp + "." + aud + "." + s.mac(d.ID, rev, exp, aud)
}

func (s *Service) mac(videoID, rev, exp, aud string) string {
	m := hmac.New(sha256.New, s.PlaybackKey)
	m.Write([]byte("training playback v2\x00" + videoID + "\x00" + rev + "\x00" + exp + "\x00" + aud))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// audienceDigest is a short digest of who may see d: its roles and departments, sorted.
func audienceDigest(d *videoDoc) string {
	roles, depts := slices.Clone(d.Roles), slices.Clone(d.Departments)
	slices.Sort(roles)
	slices.Sort(depts)
	sum := sha256.Sum256([]byte(strings.Join(roles, "\x01") + "\x00" + strings.Join(depts, "\x01")))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// credential is a verified playback credential.
type credential struct {
	rev      string
	expires  time.Time
	audience string // the audience digest it was handed out for
}

// verify checks a playback credential of video videoID without reading anything: a forged or
// expired one is forbidden (the player should ask for a new playback). Whether it was handed out
// for the video's current audience is Playlist's check, once it has read the video.
func (s *Service) verify(videoID, token string) (credential, error) {
	invalid := apperr.New(apperr.Forbidden, "the playback URL is not valid")
	parts := strings.Split(token, ".")
	if len(parts) != 4 {
		return credential{}, invalid
	}
	revBytes, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return credential{}, invalid
	}
	rev, exp, aud, mac := string(revBytes), parts[1], parts[2], parts[3]
	if !hmac.Equal([]byte(mac), []byte(s.mac(videoID, rev, exp, aud))) {
		return credential{}, invalid
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return credential{}, invalid
	}
	expires := time.Unix(unix, 0).UTC()
	if !s.Now.UTC().Before(expires) {
		return credential{}, apperr.New(apperr.Forbidden, "the playback URL has expired; start the playback again")
	}
	return credential{rev: rev, expires: expires, audience: aud}, nil
}
