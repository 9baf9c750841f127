package approval

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

// Standard Webhooks (https://www.standardwebhooks.com): the signed content is
// "<webhook-id>.<webhook-timestamp>.<raw body>", the signature "v1," + base64 of its HMAC-SHA256
// under the secret's bytes (the base64 after "whsec_"), and webhook-signature holds one or more
// space-separated signatures, so that a sender can sign with an old and a new secret during a
// rotation.

const secretPrefix = "whsec_"

// Headers are the Standard Webhooks headers of a request.
type Headers struct {
	ID, Timestamp, Signature string
}

// NewSecret returns a fresh "whsec_<base64 of 32 random bytes>" key.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretBytes decodes a "whsec_" key; ok is false for a malformed one.
func secretBytes(secret string) ([]byte, bool) {
	raw, found := strings.CutPrefix(secret, secretPrefix)
	if !found {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	return b, err == nil && len(b) >= 16
}

// Sign returns the "v1,<base64>" signature of body sent as message id at ts with secret. The
// tests' fake OA and the callback outbox (part C) sign with it.
func Sign(secret, id string, ts time.Time, body []byte) string {
	key, _ := secretBytes(secret)
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// maxWebhookID bounds the webhook-id header, which becomes part of a stored _id.
const maxWebhookID = 200

// Verify checks a request against the integration's secrets at now: the headers must be
// present, the timestamp within SignatureTolerance of now, and one of the signatures a valid
// v1 signature under one of the secrets (compared in constant time). It returns unauthorized,
// naming the header, otherwise.
func Verify(h Headers, body []byte, secrets []Secret, now time.Time) error {
	unauthorized := func(field, msg string) error {
		return &apperr.Error{Code: apperr.Unauthorized, Field: field, Message: msg}
	}
	if h.ID == "" || len(h.ID) > maxWebhookID || strings.ContainsAny(h.ID, "\x00$/") {
		return unauthorized("webhook-id", "the webhook-id header is missing or malformed")
	}
	sec, err := strconv.ParseInt(h.Timestamp, 10, 64)
	if err != nil {
		return unauthorized("webhook-timestamp", "the webhook-timestamp header must be Unix seconds")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return unauthorized("webhook-timestamp", "the webhook-timestamp is more than 5 minutes from the server's time")
	}
	var sigs [][]byte
	for _, part := range strings.Fields(h.Signature) {
		v, b64, ok := strings.Cut(part, ",")
		if !ok || v != "v1" {
			continue // other schemes (v1a, asymmetric) are not ours; skip them as the spec says
		}
		if sig, err := base64.StdEncoding.DecodeString(b64); err == nil {
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 {
		return unauthorized("webhook-signature", "the webhook-signature header has no v1 signature")
	}
	for _, s := range secrets {
		key, ok := secretBytes(s.Key)
		if !ok {
			continue
		}
		want := mac(key, h.ID, h.Timestamp, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return unauthorized("webhook-signature", "no signature matches an active secret of this integration")
}
