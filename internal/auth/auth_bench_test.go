package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/testenv"
)

// The costs on every request (Verify, Authenticate), on every login and refresh (Issue), and on
// every password check (VerifyPassword at the production cost).

var benchPrincipal = Principal{
	UserID: "u1", Roles: []Role{RoleEmployee, RoleApprover}, Department: "R&D", SessionID: "s1", DeviceID: "dev-1",
}

func benchTokens(b *testing.B) *Tokens {
	b.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := NewKeySet(priv)
	if err != nil {
		b.Fatal(err)
	}
	return &Tokens{Keys: keys, Issuer: "mportal", Audience: "mportal-app", TTL: 15 * time.Minute}
}

func BenchmarkTokensIssue(b *testing.B) {
	tokens := benchTokens(b)
	for b.Loop() {
		if _, _, err := tokens.Issue(benchPrincipal); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokensVerify(b *testing.B) {
	tokens := benchTokens(b)
	token, _, err := tokens.Issue(benchPrincipal)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := tokens.Verify(token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionsAuthenticate is the authenticated hot path with the session already cached:
// a signature check and one map read, no database round trip.
func BenchmarkSessionsAuthenticate(b *testing.B) {
	hash, err := HashPassword("bench-password-1", cheap)
	if err != nil {
		b.Fatal(err)
	}
	accounts := &fakeAccounts{users: map[string]*fakeUser{"u1": {
		acc:        Account{ID: "u1", PasswordHash: hash, Department: "R&D", Roles: []Role{RoleEmployee}, Active: true},
		employeeNo: "E1001",
	}}}
	s := &Sessions{DB: testenv.Mongo(b), Accounts: accounts, Tokens: benchTokens(b), Recheck: MaxRecheck, Argon: cheap}
	ctx := context.Background()
	pair, err := s.Login(ctx, LoginInput{Login: "E1001", Password: "bench-password-1", DeviceID: "dev-1"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, pair.AccessToken); err != nil { // warms the cache
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Authenticate(ctx, pair.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Authenticate(ctx, pair.AccessToken); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkVerifyPassword is one login's password check at the production cost (DefaultArgon2):
// it bounds logins per second per core.
func BenchmarkVerifyPassword(b *testing.B) {
	hash, err := HashPassword("correct horse battery", DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ok, err := VerifyPassword("correct horse battery", hash)
		if err != nil || !ok {
			b.Fatalf("ok %v err %v", ok, err)
		}
	}
}
