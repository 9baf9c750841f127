package media

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
)

// MaxKeyLength is the longest key in bytes. S3 allows 1024; half of that leaves room for the
// bucket prefix in logs and URLs and is far more than any key a service builds.
const MaxKeyLength = 512

// ValidateKey checks an object key. Keys are "/"-separated paths built by services
// ("builds/android/1.4.0/app.apk"); the rules keep them portable across S3 implementations
// and stop a value that slipped in from a client from escaping its prefix. It returns an
// invalid error with Field "key" for an empty key, one longer than MaxKeyLength bytes, one that
// starts or ends with "/", has an empty, "." or ".." segment, is not UTF-8, or contains a
// control character.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return apperr.Field("key", "object key is empty")
	case len(key) > MaxKeyLength:
		return apperr.Field("key", "object key is longer than %d bytes", MaxKeyLength)
	case strings.HasPrefix(key, "/"):
		return apperr.Field("key", "object key starts with /")
	case strings.HasSuffix(key, "/"):
		return apperr.Field("key", "object key ends with /")
	case !utf8.ValidString(key):
		return apperr.Field("key", "object key is not valid UTF-8")
	case strings.ContainsFunc(key, unicode.IsControl):
		return apperr.Field("key", "object key contains a control character")
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return apperr.Field("key", "object key has an empty path segment")
		case ".", "..":
			return apperr.Field("key", "object key has a %q path segment", seg)
		}
	}
	return nil
}

// checkBucket rejects a Bucket that is not one of the fixed buckets. Services only ever pass
// the constants, so anything else is a bug, not a client mistake: a plain (internal) error.
func checkBucket(b Bucket) error {
	for _, known := range Buckets() {
		if b == known {
			return nil
		}
	}
	return fmt.Errorf("media: unknown bucket %q", string(b))
}

// checkObject validates a bucket and key pair before any request is made.
func checkObject(b Bucket, key string) error {
	if err := checkBucket(b); err != nil {
		return err
	}
	return ValidateKey(key)
}
