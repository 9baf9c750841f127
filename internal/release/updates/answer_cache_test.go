package updates_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/internal/release/updates"
)

// encoded is CheckUpdate's answer as the handler used to encode it: the reference that
// CheckUpdateJSON's cached bytes must equal.
func encoded(t *testing.T, s *service, p *auth.Principal, q updates.Query, locale string) string {
	t.Helper()
	u, err := s.CheckUpdate(ctx(t), p, q, locale)
	if err != nil {
		t.Fatal(err)
	}
	return string(u.AppendJSON(nil))
}

// answered is CheckUpdateJSON's answer; the bytes of an earlier answer must survive it (they
// may be shared, never overwritten).
func answered(t *testing.T, s *service, p *auth.Principal, q updates.Query, locale string) string {
	t.Helper()
	b, err := s.CheckUpdateJSON(ctx(t), p, q, locale)
	if err != nil {
		t.Fatal(err)
	}
	before := string(b)
	if _, err := s.CheckUpdateJSON(ctx(t), p, q, locale); err != nil {
		t.Fatal(err)
	}
	if string(b) != before {
		t.Fatalf("the next answer changed this one's bytes: %q, was %q", b, before)
	}
	return before
}

func TestCheckUpdateJSONAnswersAsCheckUpdate(t *testing.T) {
	f := benchFixture().minBuild("stable", android, 95)
	f.d.Builds[0].Notes["fr"] = "Version \"90\" <b>\u00e9t\u00e9</b>\n"
	s := newService(t, f)
	callers := []*auth.Principal{user("u1"), user(userWhere(t, true)), user(userWhere(t, false)), user(tester),
		{UserID: "it-1", Roles: []auth.Role{auth.RoleEmployee}, Department: "IT"}, user("member-7")}
	for _, p := range callers {
		for _, pf := range []release.Platform{android, ios} {
			for _, build := range []int64{0, 90, 94, 100, 115, 130, 500} {
				for _, channel := range []string{"", "stable", "beta", "alpha", "field", "nope"} {
					for _, locale := range []string{"", "en", "zh-CN", "fr", "xx"} {
						q := updates.Query{AppID: appID, Platform: pf, Build: build, Channel: channel}
						want := encoded(t, s, p, q, locale)
						for i := range 2 { // the second from the cache
							if got := answered(t, s, p, q, locale); got != want {
								t.Fatalf("%s %+v %q (call %d):\n%s", p.UserID, q, locale, i+1, cmp.Diff(want, got))
							}
						}
					}
				}
			}
		}
	}
	t.Run("returns CheckUpdate's errors", func(t *testing.T) {
		for _, q := range []updates.Query{{AppID: "nope", Platform: android}, {AppID: appID, Platform: "web"},
			{AppID: appID, Platform: android, Channel: "Bad!"}} {
			if _, err := s.CheckUpdateJSON(ctx(t), user("u1"), q, "en"); err == nil {
				t.Errorf("%+v: no error", q)
			}
		}
		if _, err := s.CheckUpdateJSON(ctx(t), nil, updates.Query{AppID: appID, Platform: android}, "en"); err == nil {
			t.Error("no principal: no error")
		}
	})
}

// The cached answers live on the snapshot, so every release change (publish, raise of the
// minimum build, halt) is answered from the next check on, and renewed links replace old ones.
func TestCheckUpdateJSONFollowsReleaseChanges(t *testing.T) {
	f := newFixture().release("stable", android, 100, rollout.Completed, 100).release("stable", ios, 7, rollout.Completed, 100)
	s := newService(t, f)
	p, q := user("u1"), updates.Query{AppID: appID, Platform: android, Build: 90}
	check := func(t *testing.T, wantType string, wantBuild, wantMin int64) {
		t.Helper()
		got := answered(t, s, p, q, "en")
		if want := encoded(t, s, p, q, "en"); got != want {
			t.Fatalf("cached answer differs from CheckUpdate's:\n%s", cmp.Diff(want, got))
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Fatal(err)
		}
		if m["update_type"] != wantType || m["build"] != float64(wantBuild) || m["min_build"] != float64(wantMin) {
			t.Fatalf("answer %s, want %s of build %d with min_build %d", got, wantType, wantBuild, wantMin)
		}
	}
	change := func(t *testing.T, token string) {
		t.Helper()
		f.save(t, s.releases, token)
		s.View.Changed()
	}
	check(t, "optional", 100, 0)

	t.Run("renews the links in the cached answer", func(t *testing.T) {
		// iOS: the manifest link's expiry follows the service's clock (a presigned download
		// link follows the storage client's own).
		p, q := user("u1"), updates.Query{AppID: appID, Platform: ios, Build: 5}
		installURL := func() any {
			got := answered(t, s, p, q, "en")
			if want := encoded(t, s, p, q, "en"); got != want {
				t.Fatalf("cached answer differs from CheckUpdate's:\n%s", cmp.Diff(want, got))
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(got), &m); err != nil {
				t.Fatal(err)
			}
			return m["install_url"]
		}
		before := installURL()
		s.clock.Advance(updates.URLReuse)
		if after := installURL(); after == before || after == nil {
			t.Fatalf("the cached answer kept the install link %v past URLReuse", before)
		}
	})
	t.Run("answers a publish", func(t *testing.T) {
		f.release("stable", android, 110, rollout.Completed, 100)
		change(t, "t2")
		check(t, "optional", 110, 0)
	})
	t.Run("answers a raised minimum build", func(t *testing.T) {
		f.minBuild("stable", android, 105)
		change(t, "t3")
		check(t, "required", 110, 105)
	})
	t.Run("answers a halt", func(t *testing.T) {
		f.track("stable", android).Releases[1].State = rollout.Halted
		f.minBuild("stable", android, 0)
		change(t, "t4")
		check(t, "optional", 100, 0)
	})
}

// Checks run concurrently with each other and with reloads (run with -race): every answer is
// one of the encodings CheckUpdate gives before or after the change.
func TestCheckUpdateJSONConcurrently(t *testing.T) {
	f := newFixture().release("stable", android, 100, rollout.Completed, 100)
	s := newService(t, f)
	q := updates.Query{AppID: appID, Platform: android, Build: 90}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := user(fmt.Sprintf("u%d", g))
			for range 200 {
				b, err := s.CheckUpdateJSON(ctx(t), p, q, "en")
				var u updates.Update
				if err == nil {
					err = json.Unmarshal(b, &u)
				}
				if err == nil && (u.Build == nil || (*u.Build != 100 && *u.Build != 110)) {
					err = fmt.Errorf("answer %s", b)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	f.release("stable", android, 110, rollout.Completed, 100)
	f.save(t, s.releases, "t2")
	s.View.Changed()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, want := answered(t, s, user("u1"), q, "en"), encoded(t, s, user("u1"), q, "en"); got != want {
		t.Fatalf("after the reload:\n%s", cmp.Diff(want, got))
	}
}
