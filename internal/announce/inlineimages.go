package announce

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/yuin/goldmark/ast"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/media"
)

// ImageScheme is the URL scheme by which a body references an uploaded image:
// ![alt](mportal-image:<key>), key as returned by POST /v1/ops/images. The stored body_html
// keeps the reference; readers get it replaced by a presigned URL (see resolveImages).
const ImageScheme = "mportal-image:"

// imageRefAttr finds the references that survived the sanitizer in stored HTML. The sanitizer
// lets the scheme through only with a key of imageKey's shape (see safeHTML), so the match
// needs no HTML parsing.
var imageRefAttr = regexp.MustCompile(`(src|href)="mportal-image:([0-9a-f]{32}\.(?:png|jpg|webp))"`)

// presignReuse is how long a presigned inline-image URL is handed out again: a fifth of its
// lifetime, so that a reader always gets at least four minutes out of it.
const presignReuse = ImageURLExpiry / 5

// imageRefs lists the keys of the mportal-image: references in a parsed body, in order,
// without duplicates (image and link destinations both).
func imageRefs(doc ast.Node) []string {
	var keys []string
	seen := map[string]bool{}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		var dest []byte
		switch n := n.(type) {
		case *ast.Image:
			dest = n.Destination
		case *ast.Link:
			dest = n.Destination
		default:
			return ast.WalkContinue, nil
		}
		if d := string(dest); len(d) >= len(ImageScheme) && strings.EqualFold(d[:len(ImageScheme)], ImageScheme) {
			if key := d[len(ImageScheme):]; !seen[key] {
				seen[key] = true
				keys = append(keys, key)
			}
		}
		return ast.WalkContinue, nil
	})
	return keys
}

// checkImageRefs returns invalid (field body, naming the key) unless every key names an
// uploaded image, and unavailable when the storage cannot be reached.
func (s *Service) checkImageRefs(ctx context.Context, keys []string) error {
	for _, key := range keys {
		if err := s.checkImage(ctx, key); err != nil {
			if apperr.Is(err, apperr.NotFound) {
				return apperr.Field("body", "body references %s%s, which is not the key of an uploaded image (upload it with POST /v1/ops/images)", ImageScheme, key)
			}
			return err
		}
	}
	return nil
}

// presignCache holds the inline-image URLs handed out recently, so that a busy announcement
// costs one signature per key per presignReuse.
type presignCache struct {
	mu   sync.Mutex
	urls map[string]presigned
}

type presigned struct {
	url      string
	signedAt time.Time
}

// resolveImages returns bodyHTML with every mportal-image: reference replaced by a presigned
// URL valid for at least ImageURLExpiry-presignReuse. A reference that cannot be signed keeps
// its stable form (the app shows a broken image rather than the whole body failing).
func (s *Service) resolveImages(ctx context.Context, bodyHTML string) string {
	if !strings.Contains(bodyHTML, ImageScheme) || s.Images == nil {
		return bodyHTML
	}
	return imageRefAttr.ReplaceAllStringFunc(bodyHTML, func(m string) string {
		sub := imageRefAttr.FindStringSubmatch(m)
		u, err := s.inlineImageURL(ctx, sub[2])
		if err != nil {
			s.log().Warn("announce: presign inline image", "key", sub[2], "err", err)
			return m
		}
		return sub[1] + `="` + html.EscapeString(u) + `"`
	})
}

// inlineImageURL presigns key, reusing a URL signed less than presignReuse ago. The age is
// wall-clock time because MinIO's signer dates the signature with the wall clock.
func (s *Service) inlineImageURL(ctx context.Context, key string) (string, error) {
	c := &s.presigned
	now := time.Now()
	c.mu.Lock()
	p, ok := c.urls[key]
	c.mu.Unlock()
	if ok && now.Sub(p.signedAt) < presignReuse {
		return p.url, nil
	}
	u, err := s.Images.PresignGet(ctx, media.Images, key, ImageURLExpiry, "")
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	c.mu.Lock()
	if c.urls == nil || len(c.urls) > 10_000 {
		c.urls = make(map[string]presigned)
	}
	c.urls[key] = presigned{url: u.String(), signedAt: now}
	c.mu.Unlock()
	return u.String(), nil
}

// ImageOrigin returns the origin (scheme://host[:port]) of the presigned image URLs, so that a
// page which shows images inserted after it loaded (the console's live preview) can allow it in
// its Content-Security-Policy. Presigning is local: it makes no network call. It returns
// unavailable without an image store.
func (s *Service) ImageOrigin(ctx context.Context) (string, error) {
	if s.Images == nil {
		return "", apperr.New(apperr.Unavailable, "no image storage")
	}
	u, err := s.Images.PresignGet(ctx, media.Images, strings.Repeat("0", 32)+".png", ImageURLExpiry, "")
	if err != nil {
		return "", fmt.Errorf("image origin: %w", err)
	}
	return u.Scheme + "://" + u.Host, nil
}
