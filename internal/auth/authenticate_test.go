package auth

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
)

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pair := f.login(t, "E1001", alicePassword, "phone-1")

	t.Run("rejects a bad token before looking at sessions", func(t *testing.T) {
		_, err := f.s.Authenticate(ctx, "not-a-token")
		if e := wantCode(t, err, apperr.Unauthorized); e.Message != "invalid or expired access token" {
			t.Fatalf("message %q", e.Message)
		}
	})
	t.Run("answers from the cache between rechecks", func(t *testing.T) {
		mustAuthenticate(t, f.s, pair.AccessToken)
		// Delete the session behind the cache's back: only a recheck can notice.
		if _, err := f.s.DB.Collection(sessionsColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: pair.SessionID}}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(30*time.Second - ReadAhead - time.Second) // before the read ahead
		mustAuthenticate(t, f.s, pair.AccessToken)
	})
	t.Run("reads the session again after Recheck", func(t *testing.T) {
		f.clock.Advance(ReadAhead + time.Second)
		_, err := f.s.Authenticate(ctx, pair.AccessToken)
		wantCode(t, err, apperr.Unauthorized)
	})
	t.Run("rejects an expired access token", func(t *testing.T) {
		other := f.login(t, "E1001", alicePassword, "phone-2")
		f.clock.Advance(DefaultAccessTTL + clockLeeway + time.Second)
		_, err := f.s.Authenticate(ctx, other.AccessToken)
		wantCode(t, err, apperr.Unauthorized)
	})
}

// gatedAccounts reports each Account read on entered and holds it until release is closed; then
// it fails with err when set.
type gatedAccounts struct {
	Accounts
	entered chan string
	release chan struct{}
	err     error
}

func (g *gatedAccounts) Account(ctx context.Context, id string) (*Account, error) {
	g.entered <- id
	<-g.release
	if g.err != nil {
		return nil, g.err
	}
	return g.Accounts.Account(ctx, id)
}

func TestAuthenticateReadsABusySessionAhead(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pair := f.login(t, "E1001", alicePassword, "phone-1")
	mustAuthenticate(t, f.s, pair.AccessToken)
	gate := &gatedAccounts{Accounts: f.accounts, entered: make(chan string, 8), release: make(chan struct{})}
	f.s.Accounts = gate
	f.accounts.update("u1", func(a *Account) { a.Roles = []Role{RoleEmployee} }) // seen only by a read
	authenticate := func() chan *Principal {
		got := make(chan *Principal, 1)
		go func() {
			p, err := f.s.Authenticate(ctx, pair.AccessToken)
			if err != nil {
				t.Error(err)
			}
			got <- p
		}()
		return got
	}
	cached := func(p *Principal) bool { return slices.Contains(p.Roles, RoleApprover) }
	read := func(t *testing.T, what string) {
		t.Helper()
		select {
		case <-gate.entered:
		case <-time.After(10 * time.Second):
			t.Fatal(what)
		}
	}

	f.clock.Advance(30*time.Second - ReadAhead)
	first := authenticate()
	read(t, "no read ahead") // the first request that close to Recheck reads the session again
	t.Run("the session's other requests answer from the cache meanwhile", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			select {
			case p := <-authenticate():
				if !cached(p) {
					t.Fatalf("roles %v: want the cached ones", p.Roles)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a second request is reading the session too")
			}
		}
		if n := len(gate.entered); n != 0 {
			t.Fatalf("%d more reads", n)
		}
	})
	t.Run("past Recheck every request reads it", func(t *testing.T) {
		f.clock.Advance(ReadAhead)
		second := authenticate()
		read(t, "no read past Recheck")
		close(gate.release)
		for _, got := range []chan *Principal{first, second} {
			if p := <-got; p == nil || cached(p) {
				t.Fatalf("principal %+v: want the roles read again", p)
			}
		}
	})
	t.Run("the read's result is in force", func(t *testing.T) {
		if p := mustAuthenticate(t, f.s, pair.AccessToken); cached(p) {
			t.Fatalf("roles %v", p.Roles)
		}
		if n := len(gate.entered); n != 0 {
			t.Fatalf("%d more reads", n)
		}
	})
	t.Run("a read ahead that fails leaves the entry in force until Recheck", func(t *testing.T) {
		f.clock.Advance(30 * time.Second) // a read of its own: the entry is from now
		mustAuthenticate(t, f.s, pair.AccessToken)
		read(t, "no read past Recheck")
		gate.err = apperr.New(apperr.Unavailable, "database down")
		f.clock.Advance(30*time.Second - ReadAhead)
		mustAuthenticate(t, f.s, pair.AccessToken)
		read(t, "no read ahead")
		f.clock.Advance(ReadAhead)
		_, err := f.s.Authenticate(ctx, pair.AccessToken)
		wantCode(t, err, apperr.Unavailable)
		read(t, "no read past Recheck")
	})
}

func TestAuthenticateCacheIsBounded(t *testing.T) {
	f := newFixture(t)
	f.s.Throttle = nil
	f.s.CacheSize = 8
	var tokens []string
	for i := 0; i < 20; i++ {
		tokens = append(tokens, f.login(t, "E1001", alicePassword, fmt.Sprintf("device-%d", i)).AccessToken)
	}
	t.Run("keeps at most CacheSize sessions under concurrent use", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := range tokens {
					if _, err := f.s.Authenticate(context.Background(), tokens[(i+g)%len(tokens)]); err != nil {
						t.Error(err)
					}
				}
			}(g)
		}
		wg.Wait()
		n := f.s.cache.entries.len()
		if n > 8 {
			t.Fatalf("cache holds %d sessions, want at most 8", n)
		}
	})
	t.Run("still rejects a revoked session that fell out of the cache", func(t *testing.T) {
		p := mustAuthenticate(t, f.s, tokens[0])
		if err := f.s.Logout(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		for _, tok := range tokens[1:] { // push the tombstone out
			mustAuthenticate(t, f.s, tok)
		}
		_, err := f.s.Authenticate(context.Background(), tokens[0])
		wantCode(t, err, apperr.Unauthorized)
	})
}

func TestPurge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old := f.login(t, "E1001", alicePassword, "phone-1")
	if _, err := f.s.Refresh(ctx, old.RefreshToken, "phone-1"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultRefreshTTL)
	fresh := f.login(t, "E1002", "bob-secret-22", "bobs-phone")

	n, err := f.s.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("deletes the expired session, its tokens and their uses", func(t *testing.T) {
		// alice: 1 session, 2 refresh tokens (the first was rotated away), 1 use.
		if n != 4 {
			t.Fatalf("purged %d documents, want 4", n)
		}
	})
	t.Run("keeps live sessions", func(t *testing.T) {
		if _, err := f.s.Refresh(ctx, fresh.RefreshToken, "bobs-phone"); err != nil {
			t.Fatal(err)
		}
	})
}
