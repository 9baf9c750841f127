package approval

import (
	"strconv"
	"strings"
	"time"
)

// signWebhook returns the Standard Webhooks headers for body: webhook-id, webhook-timestamp (Unix
// seconds) and webhook-signature, one "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret
// (Sign), space-separated, so that an OA part way through a secret rotation accepts the message
// with either key.
func signWebhook(id string, at time.Time, body []byte, secrets []string) map[string]string {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sigs = append(sigs, Sign(s, id, at, body))
	}
	return map[string]string{
		"webhook-id":        id,
		"webhook-timestamp": strconv.FormatInt(at.Unix(), 10),
		"webhook-signature": strings.Join(sigs, " "),
	}
}
