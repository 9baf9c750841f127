package updates_test

import (
	"fmt"
	"testing"

	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/internal/release/updates"
)

// benchFixture is a typical app: stable with a completed and a staged release, a beta, and an
// alpha, on both platforms, with a thousand beta members.
func benchFixture() *fixture {
	f := newFixture()
	for _, pf := range []string{"android", "ios"} {
		p := android
		if pf == "ios" {
			p = ios
		}
		f.release("stable", p, 90, rollout.Completed, 100).release("stable", p, 100, rollout.Completed, 100).
			release("stable", p, 110, rollout.Active, 20).release("beta", p, 120, rollout.Active, 50).
			release("alpha", p, 130, rollout.Active, 100)
	}
	for i := range 1000 {
		f.d.Members = append(f.d.Members, f.d.Members[0])
		f.d.Members[len(f.d.Members)-1].UserID = fmt.Sprintf("member-%d", i)
	}
	return f
}

// BenchmarkSnapshotCheck is the in-memory decision alone: membership, two rollout decisions.
func BenchmarkSnapshotCheck(b *testing.B) {
	snap := benchFixture().snapshot()
	p := user("member-7")
	q := updates.Query{AppID: appID, Platform: android, Build: 100, Channel: "beta"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := snap.Check(p, q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckUpdate is the whole service call an update check makes, with the links (signed
// or reused) and the JSON encoding the handler does, for Android and iOS.
func BenchmarkCheckUpdate(b *testing.B) {
	for _, pf := range []struct {
		name string
		q    updates.Query
	}{
		{"android", updates.Query{AppID: appID, Platform: android, Build: 95}},
		{"ios", updates.Query{AppID: appID, Platform: ios, Build: 95}},
	} {
		b.Run(pf.name, func(b *testing.B) {
			s := newService(b, benchFixture())
			p := user("u1")
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				u, err := s.CheckUpdate(b.Context(), p, pf.q, "en")
				if err != nil || u.DownloadURL == nil {
					b.Fatal(err)
				}
				buf = u.AppendJSON(buf[:0])
			}
		})
	}
}

// BenchmarkCheckUpdateJSON is the call the update check's handler makes: the decision, the day's
// usage event (already recorded: the common case) and the encoded answer, shared once made.
func BenchmarkCheckUpdateJSON(b *testing.B) {
	s := newService(b, benchFixture())
	s.Usage = discardUsage{}
	p := user("u1")
	q := updates.Query{AppID: appID, Platform: android, Build: 95}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if body, err := s.CheckUpdateJSON(b.Context(), p, q, "en"); err != nil || len(body) == 0 {
				b.Error(err)
				return
			}
		}
	})
}

// discardUsage is a UsageRecorder that records nothing.
type discardUsage struct{}

func (discardUsage) Record(string, string, string, map[string]string) {}
