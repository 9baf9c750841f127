package announce

import (
	"context"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/testenv"
)

// BenchmarkResolveImages measures what a read of a body with three inline images adds:
// "cached" is the common case (URLs reused for presignReuse), "signed" signs every time.
func BenchmarkResolveImages(b *testing.B) {
	ctx := context.Background()
	s := &Service{Images: testenv.Store(b, "bench")}
	var md strings.Builder
	md.WriteString("Some text.\n\n")
	for i := range 3 {
		md.WriteString("![pic](mportal-image:" + strings.Repeat(string(rune('a'+i)), 32) + ".png)\n\n")
	}
	bodyHTML, _, _, err := render(md.String())
	if err != nil || strings.Count(bodyHTML, "mportal-image:") != 3 {
		b.Fatal(bodyHTML, err)
	}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = s.resolveImages(ctx, bodyHTML)
		}
	})
	b.Run("signed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.presigned.mu.Lock()
			s.presigned.urls = nil
			s.presigned.mu.Unlock()
			_ = s.resolveImages(ctx, bodyHTML)
		}
	})
	b.Run("no images", func(b *testing.B) {
		plain, _, _, _ := render("Some text.\n\n- a list")
		b.ReportAllocs()
		for b.Loop() {
			_ = s.resolveImages(ctx, plain)
		}
	})
}
