package auth

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

func TestDeriveKey(t *testing.T) {
	seed := func(b byte) ed25519.PrivateKey {
		return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
	}
	a, err := NewKeySet(seed(1), seed(2))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewKeySet(seed(1))
	rotated, _ := NewKeySet(seed(2), seed(1))
	k := a.DeriveKey("manifest-url")
	t.Run("is 32 bytes and the same on every instance with the same signing key", func(t *testing.T) {
		if len(k) != 32 || !bytes.Equal(k, again.DeriveKey("manifest-url")) {
			t.Fatalf("derived %x and %x", k, again.DeriveKey("manifest-url"))
		}
	})
	t.Run("differs per purpose", func(t *testing.T) {
		if bytes.Equal(k, a.DeriveKey("other")) {
			t.Fatal("two purposes derived the same key")
		}
	})
	t.Run("changes when the signing key rotates", func(t *testing.T) {
		if bytes.Equal(k, rotated.DeriveKey("manifest-url")) {
			t.Fatal("a new signing key derived the old key")
		}
	})
	t.Run("is not the signing key itself", func(t *testing.T) {
		if bytes.Contains(seed(1), k) {
			t.Fatal("the derived key is part of the private key")
		}
	})
}
