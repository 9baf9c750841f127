package announce

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/testenv"
)

// png1x1 is a valid 1x1 PNG.
var png1x1 = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

var imgSrc = regexp.MustCompile(`<img src="([^"]+)"`)

func TestInlineImages(t *testing.T) {
	db := testenv.Mongo(t)
	store := testenv.Store(t, "inl")
	ctx := context.Background()
	reader := &auth.Principal{UserID: "u1", Department: "Sales", Roles: []auth.Role{auth.RoleEmployee}}
	s := &Service{DB: db, Push: &countingPusher{}, Images: store,
		Members: staticMembers{members: []directory.Member{{UserID: "u1", Department: "Sales"}}}}
	key, err := s.UploadImage(ctx, opsUser, "image/png", png1x1)
	if err != nil {
		t.Fatal(err)
	}
	in := func(body string) Input {
		return Input{Title: ptr("Pictures"), Body: ptr(body), Audience: &Audience{All: true}}
	}

	t.Run("refuses a reference to a key that was never uploaded, naming the field and the key", func(t *testing.T) {
		unknown := strings.Repeat("ab", 16) + ".png"
		for _, ref := range []string{unknown, "nope.gif"} {
			_, err := s.Create(ctx, opsUser, in("see ![x](mportal-image:"+ref+")"))
			ae, ok := apperr.As(err)
			if !apperr.Is(err, apperr.Invalid) || !ok || ae.Field != "body" || !strings.Contains(err.Error(), ref) {
				t.Errorf("%s: %v, want invalid body naming the key", ref, err)
			}
		}
		if _, err := s.Preview(ctx, opsUser, "![x](mportal-image:"+unknown+")"); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("preview of an unknown key: %v", err)
		}
	})

	a, err := s.Create(ctx, opsUser, in("Look:\n\n![the plan](mportal-image:"+key+")"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("stores the stable reference, not a URL", func(t *testing.T) {
		raw, err := s.lookup(ctx, a.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		stored := raw.BodyHTML
		if !strings.Contains(stored, `src="mportal-image:`+key+`"`) || strings.Contains(stored, "X-Amz") {
			t.Errorf("stored body_html %q", stored)
		}
		if rec := raw.syncRecord(); strings.Contains(rec.BodyHTML, "X-Amz") {
			t.Errorf("a sync record carries a presigned URL: %q", rec.BodyHTML)
		}
	})
	fetch := func(t *testing.T, bodyHTML string) {
		t.Helper()
		m := imgSrc.FindStringSubmatch(bodyHTML)
		if m == nil || !strings.Contains(m[1], "X-Amz-Signature") {
			t.Fatalf("no presigned img src in %q", bodyHTML)
		}
		res, err := http.Get(strings.ReplaceAll(m[1], "&amp;", "&"))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		got, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || string(got) != string(png1x1) {
			t.Fatalf("GET the img src: %d, %d bytes", res.StatusCode, len(got))
		}
	}
	t.Run("a reader gets a presigned URL that downloads the image without a token", func(t *testing.T) {
		d, err := s.Read(ctx, reader, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(d.BodyHTML, `alt="the plan"`) {
			t.Errorf("alt text lost: %q", d.BodyHTML)
		}
		fetch(t, d.BodyHTML)
	})
	t.Run("a second read gets a URL that is still valid, and ops reads get one too", func(t *testing.T) {
		d, err := s.Read(ctx, reader, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		fetch(t, d.BodyHTML)
		g, err := s.Get(ctx, opsUser, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		fetch(t, g.BodyHTML)
		list, err := s.List(ctx, opsUser)
		if err != nil || len(list) == 0 {
			t.Fatal(list, err)
		}
		fetch(t, list[0].BodyHTML)
	})
	t.Run("a cached URL is signed again before a fifth of its lifetime is over", func(t *testing.T) {
		s.presigned.mu.Lock()
		p := s.presigned.urls[key]
		p.signedAt = time.Now().Add(-presignReuse - time.Second)
		s.presigned.urls[key] = p
		s.presigned.mu.Unlock()
		if _, err := s.Read(ctx, reader, a.ID); err != nil {
			t.Fatal(err)
		}
		s.presigned.mu.Lock()
		defer s.presigned.mu.Unlock()
		if time.Since(s.presigned.urls[key].signedAt) > presignReuse {
			t.Error("an old URL was handed out again")
		}
	})
	t.Run("an edit checks the new body's references too", func(t *testing.T) {
		_, err := s.Update(ctx, opsUser, a.ID, Input{Body: ptr("![x](mportal-image:" + strings.Repeat("cd", 16) + ".jpg)")})
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), strings.Repeat("cd", 16)+".jpg") {
			t.Errorf("edit to an unknown key: %v", err)
		}
	})
}

func TestSanitizerKeepsOnlyImageReferences(t *testing.T) {
	key := strings.Repeat("0f", 16) + ".webp"
	for _, c := range []struct{ name, markdown, keep string }{
		{"keeps a well-formed reference", "![a](mportal-image:" + key + ")", `src="mportal-image:` + key + `"`},
		{"strips javascript:", "![a](javascript:alert(1))", ""},
		{"strips data:", "![a](data:image/png;base64,iVBORw0KGgo=)", ""},
		{"strips a foreign scheme", "![a](file:///etc/passwd)", ""},
		{"strips a reference with a query", "![a](mportal-image:" + key + "?x=1)", ""},
		{"strips a reference to a non-image key", "![a](mportal-image:../secret.txt)", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, _, _, err := render(c.markdown)
			if err != nil {
				t.Fatal(err)
			}
			if c.keep != "" && !strings.Contains(got, c.keep) {
				t.Errorf("%q rendered %q, want %q", c.markdown, got, c.keep)
			}
			if c.keep == "" && strings.Contains(got, "src=") {
				t.Errorf("%q rendered %q, want no src", c.markdown, got)
			}
		})
	}
}
