package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestThumbprint(t *testing.T) {
	t.Run("matches the RFC 8037 appendix A.3 example", func(t *testing.T) {
		x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
		if err != nil {
			t.Fatal(err)
		}
		if got := Thumbprint(ed25519.PublicKey(x)); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
			t.Fatalf("thumbprint %s", got)
		}
	})
}

func TestLoadKeysGeneratesTheDefaultKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "keys")
	path := filepath.Join(dir, "jwt-signing.pem")
	first, err := LoadKeys(nil, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("writes the key with owner-only permissions", func(t *testing.T) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("key mode %v", fi.Mode().Perm())
		}
		di, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if di.Mode().Perm() != 0o700 {
			t.Fatalf("dir mode %v", di.Mode().Perm())
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("left %d files behind", len(entries))
		}
	})
	t.Run("reuses the key on the next start", func(t *testing.T) {
		again, err := LoadKeys(nil, path)
		if err != nil {
			t.Fatal(err)
		}
		if again.SigningKID() != first.SigningKID() {
			t.Fatal("the default key was regenerated")
		}
	})
	t.Run("ignores the default when files are listed", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.pem")
		der, _ := x509.MarshalPKCS8PrivateKey(newKey(t))
		writePEM(t, other, "PRIVATE KEY", der)
		ks, err := LoadKeys([]string{other, path}, filepath.Join(t.TempDir(), "unused.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if ks.SigningKID() == first.SigningKID() || ks.KIDs()[1] != first.SigningKID() {
			t.Fatalf("kids %v", ks.KIDs())
		}
	})
}

func TestJWKS(t *testing.T) {
	a, b := newKey(t), newKey(t)
	ks, err := NewKeySet(a, b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ks.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	t.Run("lists every key with its kid", func(t *testing.T) {
		if len(set.Keys) != 2 {
			t.Fatalf("%d keys", len(set.Keys))
		}
		for i, priv := range []ed25519.PrivateKey{a, b} {
			pub := priv.Public().(ed25519.PublicKey)
			want := map[string]string{
				"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub),
				"kid": Thumbprint(pub), "alg": "EdDSA", "use": "sig",
			}
			for k, v := range want {
				if set.Keys[i][k] != v {
					t.Errorf("key %d %s = %q, want %q", i, k, set.Keys[i][k], v)
				}
			}
		}
	})
	t.Run("contains no private parts", func(t *testing.T) {
		for _, k := range set.Keys {
			if len(k) != 6 {
				t.Fatalf("unexpected members in %v", k)
			}
		}
		if strings.Contains(string(raw), base64.RawURLEncoding.EncodeToString(a.Seed())) {
			t.Fatal("JWKS contains a private key")
		}
	})
}

func TestLoadKeysErrors(t *testing.T) {
	dir := t.TempDir()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	edDER, _ := x509.MarshalPKCS8PrivateKey(newKey(t))

	notPEM := filepath.Join(dir, "not-pem.pem")
	_ = os.WriteFile(notPEM, []byte("hello"), 0o600)
	ec := filepath.Join(dir, "ec.pem")
	writePEM(t, ec, "PRIVATE KEY", ecDER)
	wrongType := filepath.Join(dir, "cert.pem")
	writePEM(t, wrongType, "CERTIFICATE", edDER)
	garbled := filepath.Join(dir, "garbled.pem")
	writePEM(t, garbled, "PRIVATE KEY", []byte{0x30, 0x03, 0x01, 0x02})
	good := filepath.Join(dir, "good.pem")
	writePEM(t, good, "PRIVATE KEY", edDER)

	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"names a missing file", []string{filepath.Join(dir, "missing.pem")}, "missing.pem"},
		{"names a file without PEM", []string{notPEM}, "not-pem.pem: no PEM block"},
		{"names a non-Ed25519 key", []string{ec}, "ec.pem: is a *ecdsa.PrivateKey"},
		{"names a wrong PEM type", []string{wrongType}, `cert.pem: PEM block is "CERTIFICATE"`},
		{"names a malformed key", []string{garbled}, "garbled.pem: malformed PKCS#8"},
		{"rejects a key listed twice", []string{good, good}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadKeys(tt.files, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
