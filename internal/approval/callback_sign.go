package approval

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// signWebhook returns the Standard Webhooks headers for body: webhook-id, webhook-timestamp (Unix
// seconds) and webhook-signature, one "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret,
// space-separated, so that an OA that is rotating its secret accepts the message with either.
// Secrets are raw key bytes (the part after "whsec_", base64-decoded).
func signWebhook(id string, at time.Time, body []byte, secrets [][]byte) map[string]string {
	ts := strconv.FormatInt(at.Unix(), 10)
	sigs := make([]string, 0, len(secrets))
	for _, key := range secrets {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return map[string]string{
		"webhook-id":        id,
		"webhook-timestamp": ts,
		"webhook-signature": strings.Join(sigs, " "),
	}
}
