package fcmfake

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// Failure is an error the fake answers with instead of accepting a message.
type Failure int

const (
	// None accepts the message (after Behavior.Delay).
	None Failure = iota
	// Unregistered is 404 NOT_FOUND with FCM code UNREGISTERED: the app was
	// uninstalled or the token expired.
	Unregistered
	// InvalidToken is 400 INVALID_ARGUMENT saying the registration token is
	// not a valid FCM registration token.
	InvalidToken
	// InvalidArgument is 400 INVALID_ARGUMENT about the message, not the token.
	InvalidArgument
	// QuotaExceeded is 429 RESOURCE_EXHAUSTED with FCM code QUOTA_EXCEEDED.
	QuotaExceeded
	// Unavailable is 503 UNAVAILABLE.
	Unavailable
	// Internal is 500 INTERNAL.
	Internal
	// SenderIDMismatch is 403 PERMISSION_DENIED with FCM code
	// SENDER_ID_MISMATCH: the token belongs to another Firebase project.
	SenderIDMismatch
	// ThirdPartyAuth is 401 UNAUTHENTICATED with FCM code
	// THIRD_PARTY_AUTH_ERROR: the APNs certificate or key was rejected.
	ThirdPartyAuth
)

// Behavior is how the fake answers messages to matching tokens.
type Behavior struct {
	// Fail is the error to answer with; None accepts.
	Fail Failure
	// RetryAfter, in whole seconds, is sent as the Retry-After header with
	// QuotaExceeded and Unavailable; zero sends none.
	RetryAfter time.Duration
	// Delay is waited before answering; it ends early, without recording
	// anything, when the client gives up.
	Delay time.Duration
	// Times limits Fail to the first Times requests for each token; later
	// requests are accepted. Zero fails every request.
	Times int
}

// failure is an error reply: the status and the body in the shape of the
// FCM v1 API, which the Firebase SDK parses to classify the error.
type failure struct {
	status int
	body   []byte
}

// failureReply returns the reply for f; ok is false for None.
func failureReply(f Failure) (failure, bool) {
	switch f {
	case Unregistered:
		return reply(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."), true
	case InvalidToken:
		return reply(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"), true
	case InvalidArgument:
		return reply(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Request contains an invalid argument."), true
	case QuotaExceeded:
		return reply(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric 'Messages'."), true
	case Unavailable:
		return reply(503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."), true
	case Internal:
		return reply(500, "INTERNAL", "INTERNAL", "Internal error encountered."), true
	case SenderIDMismatch:
		return reply(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"), true
	case ThirdPartyAuth:
		return reply(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service"), true
	}
	return failure{}, false
}

func reply(status int, grpcStatus, fcmCode, message string) failure {
	details := ""
	if fcmCode != "" {
		details = `,"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"` + fcmCode + `"}]`
	}
	body := `{"error":{"code":` + strconv.Itoa(status) + `,"message":` + strconv.Quote(message) +
		`,"status":"` + grpcStatus + `"` + details + `}}`
	return failure{status: status, body: []byte(body)}
}

// behaviors is an immutable lookup table, replaced whole on every change so
// that requests read it without locking.
type behaviors struct {
	exact    map[string]Behavior
	prefixes []prefixRule // longest prefix first
}

type prefixRule struct {
	prefix string
	b      Behavior
}

// with returns a copy of t with key set; a key ending in "*" is a prefix.
func (t *behaviors) with(key string, b Behavior) *behaviors {
	out := &behaviors{exact: make(map[string]Behavior, len(t.exact)+1)}
	for k, v := range t.exact {
		out.exact[k] = v
	}
	prefix, isPrefix := strings.CutSuffix(key, "*")
	if !isPrefix {
		out.exact[key] = b
		out.prefixes = t.prefixes
		return out
	}
	for _, r := range t.prefixes {
		if r.prefix != prefix {
			out.prefixes = append(out.prefixes, r)
		}
	}
	out.prefixes = append(out.prefixes, prefixRule{prefix: prefix, b: b})
	sort.SliceStable(out.prefixes, func(i, j int) bool { return len(out.prefixes[i].prefix) > len(out.prefixes[j].prefix) })
	return out
}

// lookup returns the behavior for token: an exact entry, else the longest
// matching prefix, else the zero Behavior (accept at once).
func (t *behaviors) lookup(token string) Behavior {
	if b, ok := t.exact[token]; ok {
		return b
	}
	for _, r := range t.prefixes {
		if strings.HasPrefix(token, r.prefix) {
			return r.b
		}
	}
	return Behavior{}
}
