package auth

import (
	"strings"
	"testing"
)

var cheap = Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("is argon2id in PHC format", func(t *testing.T) {
		if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
			t.Fatalf("hash %q", h)
		}
	})
	t.Run("verifies the right password", func(t *testing.T) {
		if ok, err := VerifyPassword("correct horse battery", h); err != nil || !ok {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
	})
	t.Run("rejects a wrong password", func(t *testing.T) {
		if ok, _ := VerifyPassword("correct horse battery!", h); ok {
			t.Fatal("wrong password accepted")
		}
	})
	t.Run("salts every hash", func(t *testing.T) {
		h2, _ := HashPassword("correct horse battery", cheap)
		if h2 == h {
			t.Fatal("two hashes of one password are equal")
		}
	})
	t.Run("rejects a malformed hash", func(t *testing.T) {
		for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA"} {
			if ok, err := VerifyPassword("x", bad); ok || err == nil {
				t.Errorf("%q: ok=%v err=%v", bad, ok, err)
			}
		}
	})
}

func TestGeneratePassword(t *testing.T) {
	a, _ := GeneratePassword()
	b, _ := GeneratePassword()
	if len(a) != 16 || a == b || len(a) < MinPasswordLen {
		t.Fatalf("got %q and %q", a, b)
	}
}
