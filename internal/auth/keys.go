package auth

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeySet holds the Ed25519 keys for access tokens. The first key signs; every key verifies, which
// is how keys rotate without logging anyone out: the operator lists the new key first and keeps the
// old one until the last token it signed has expired (the access-token TTL, 15 minutes by default).
// A KeySet is immutable and safe for concurrent use.
type KeySet struct {
	keys  []signingKey // keys[0] signs
	byKID map[string]ed25519.PublicKey
}

type signingKey struct {
	kid  string
	priv ed25519.PrivateKey
}

// NewKeySet builds a KeySet from private keys; the first one signs. It fails on an empty list or a
// key listed twice.
func NewKeySet(keys ...ed25519.PrivateKey) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("jwt keys: at least one signing key is needed")
	}
	ks := &KeySet{byKID: make(map[string]ed25519.PublicKey, len(keys))}
	for i, priv := range keys {
		if len(priv) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("jwt keys: key %d is not an Ed25519 private key", i+1)
		}
		pub := priv.Public().(ed25519.PublicKey)
		kid := Thumbprint(pub)
		if _, dup := ks.byKID[kid]; dup {
			return nil, fmt.Errorf("jwt keys: key %d (kid %s) is listed twice", i+1, kid)
		}
		ks.keys = append(ks.keys, signingKey{kid: kid, priv: priv})
		ks.byKID[kid] = pub
	}
	return ks, nil
}

// LoadKeys reads PKCS#8 PEM Ed25519 private keys from files, the first of which signs. When files
// is empty it uses defaultFile, generating a new key there (mode 0600, directory 0700) on first
// start, so a single instance works with no set-up. Errors name the file, never its contents.
func LoadKeys(files []string, defaultFile string) (*KeySet, error) {
	if len(files) == 0 {
		if defaultFile == "" {
			return nil, errors.New("jwt keys: no key files and no default key file")
		}
		if err := ensureKeyFile(defaultFile); err != nil {
			return nil, err
		}
		files = []string{defaultFile}
	}
	keys := make([]ed25519.PrivateKey, 0, len(files))
	for _, f := range files {
		k, err := readKeyFile(f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	ks, err := NewKeySet(keys...)
	if err != nil {
		return nil, fmt.Errorf("%w (files %v)", err, files)
	}
	return ks, nil
}

func readKeyFile(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwt key %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("jwt key %s: no PEM block found (expected a PKCS#8 \"PRIVATE KEY\"; create one with `openssl genpkey -algorithm ed25519`)", path)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("jwt key %s: PEM block is %q, expected a PKCS#8 \"PRIVATE KEY\" (`openssl genpkey -algorithm ed25519`)", path, block.Type)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("jwt key %s: malformed PKCS#8 private key: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("jwt key %s: is a %T, expected an Ed25519 private key (`openssl genpkey -algorithm ed25519`)", path, key)
	}
	return priv, nil
}

// ensureKeyFile generates a key at path unless one exists. The key is written to a temporary file
// and hard-linked into place, which fails if path appeared meanwhile: two processes starting at
// once never overwrite each other's key, and nobody ever reads a half-written file.
func ensureKeyFile(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("jwt key %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("jwt key %s: create directory: %w", path, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("jwt key %s: generate: %w", path, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("jwt key %s: encode: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".jwt-key-*")
	if err != nil {
		return fmt.Errorf("jwt key %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp already uses 0600; saying it again keeps the requirement visible.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("jwt key %s: %w", path, err)
	}
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return fmt.Errorf("jwt key %s: write: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("jwt key %s: write: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("jwt key %s: write: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("jwt key %s: install: %w", path, err)
	}
	return nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint of an Ed25519 public key, used as its kid.
func Thumbprint(pub ed25519.PublicKey) string {
	// RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SigningKID returns the kid of the key that signs new tokens.
func (k *KeySet) SigningKID() string { return k.keys[0].kid }

// DeriveKey returns a 32-byte secret for purpose (such as "manifest-url"), derived from the
// signing key with HMAC-SHA256, so every instance sharing the key files derives the same secret
// and no other secret needs distributing. Rotating the signing key rotates derived keys too.
func (k *KeySet) DeriveKey(purpose string) []byte {
	mac := hmac.New(sha256.New, k.keys[0].priv.Seed())
	mac.Write([]byte("mportal derived key v1\x00" + purpose))
	return mac.Sum(nil)
}

// KIDs returns the kids of all verification keys, the signing key first.
func (k *KeySet) KIDs() []string {
	kids := make([]string, len(k.keys))
	for i, sk := range k.keys {
		kids[i] = sk.kid
	}
	return kids
}

func (k *KeySet) signer() signingKey { return k.keys[0] }

func (k *KeySet) publicKey(kid string) (ed25519.PublicKey, bool) {
	pub, ok := k.byKID[kid]
	return pub, ok
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS returns the public keys as a JSON Web Key Set (RFC 7517) for
// /v1/.well-known/jwks.json. It contains only public parts.
func (k *KeySet) JWKS() ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(k.keys))}
	for _, sk := range k.keys {
		pub := sk.priv.Public().(ed25519.PublicKey)
		set.Keys = append(set.Keys, jwk{
			Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
			Kid: sk.kid, Alg: "EdDSA", Use: "sig",
		})
	}
	return json.Marshal(set)
}
