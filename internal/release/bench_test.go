package release

import (
	"fmt"
	"testing"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
)

// BenchmarkCreateBuild measures turning an uploaded APK into a build: ranged reads of its
// metadata, the streamed copy with SHA-256 into the artifacts bucket, the check of the copy,
// the icon and the document. The upload itself (a client PUT to MinIO) is not timed. Memory per
// operation stays near one 16 MiB multipart chunk whatever the file's size.
func BenchmarkCreateBuild(b *testing.B) {
	for _, size := range []int{20 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			f := newFixture(b)
			f.app(b, "portal")
			b.SetBytes(int64(size))
			n := int64(0)
			for b.Loop() {
				b.StopTimer()
				n++
				key := f.upload(b, "portal", Android, artifacttest.APK{Package: "com.example.portal", Build: n, Pad: size}.Bytes(b))
				b.StartTimer()
				if _, err := f.svc.CreateBuild(b.Context(), opsUser, "portal", BuildInput{UploadKey: key}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJoinCappedChannel measures a self opt-in into a channel capped at 10,000 that
// already has 200 members: one count and, thanks to the random probe start, about one seat
// insert.
func BenchmarkJoinCappedChannel(b *testing.B) {
	f := newFixture(b)
	f.app(b, "portal")
	ctx := b.Context()
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{SelfOptIn: true, Cap: 10_000}); err != nil {
		b.Fatal(err)
	}
	for i := range 200 {
		p := &auth.Principal{UserID: fmt.Sprintf("seed-%d", i)}
		if _, err := f.svc.Join(ctx, p, "portal", "beta"); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		i++
		p := &auth.Principal{UserID: fmt.Sprintf("bench-%d", i)}
		if _, err := f.svc.Join(ctx, p, "portal", "beta"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRaise measures one compare-and-swap change of a track holding 20 releases.
func BenchmarkRaise(b *testing.B) {
	f := newFixture(b)
	f.app(b, "portal")
	ctx := b.Context()
	var last string
	for n := int64(1); n <= 20; n++ {
		bd := f.fakeBuild(b, "portal", Android, n)
		tr, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "stable", BuildID: bd.PublicID, Percent: 1})
		if err != nil {
			b.Fatal(err)
		}
		last = tr.Releases[len(tr.Releases)-1].ID
	}
	pct := 1.0
	for b.Loop() {
		pct += 0.001
		if _, err := f.svc.ChangeRelease(ctx, opsUser, "portal", Android, "stable", last, Raise, pct); err != nil {
			b.Fatal(err)
		}
	}
}
