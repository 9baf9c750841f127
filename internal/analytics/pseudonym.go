package analytics

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadKey reads the pseudonym key, 32 bytes written as 64 hex digits, from file. A missing file
// is generated (mode 0600, directory 0700) when generate is true, so a single instance works
// with no set-up; replicas must share one file. The key is separate from the JWT keys on
// purpose: rotating those must not change every pseudonym. Errors name the file, never the key.
func LoadKey(file string, generate bool) ([]byte, error) {
	raw, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && generate {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("analytics key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, fmt.Errorf("analytics key %s: %w", file, err)
		}
		if err := os.WriteFile(file, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("analytics key %s: %w", file, err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("analytics key %s: %w", file, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("analytics key %s: expects at least 32 bytes written as hex digits", file)
	}
	return key, nil
}

// pseudonym is the keyed pseudonym of an id of the given kind ("u" user, "d" device): without
// the key nobody can tell whose events they are, and the same id always maps to the same value.
func (s *Service) pseudonym(kind, id string) string {
	mac := hmac.New(sha256.New, s.Key)
	mac.Write([]byte(kind + "\x00" + id))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}
