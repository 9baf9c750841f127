package media_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
)

// fetch sends an anonymous request and returns the status, headers and body.
func fetch(t *testing.T, method, rawURL string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestPresignGetDownloadsTheObject(t *testing.T) {
	f := newFixture(t)
	data := randomBytes(t, 4096)
	f.put(t, media.Artifacts, "builds/android/1.4.0/app.apk", data)
	cases := []struct {
		name            string
		downloadName    string
		wantDisposition string
	}{
		{"serves the bytes without a file name", "", ""},
		{"names an ASCII download", "mportal-1.4.0.apk", `attachment; filename="mportal-1.4.0.apk"`},
		{"names a Chinese download with an ASCII fallback", "培训 1.apk",
			`attachment; filename="__ 1.apk"; filename*=UTF-8''%E5%9F%B9%E8%AE%AD%201.apk`},
		{"escapes quotes in a name", `a"b.apk`, `attachment; filename="a_b.apk"; filename*=UTF-8''a%22b.apk`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := f.store.PresignGet(ctx(t), media.Artifacts, "builds/android/1.4.0/app.apk", time.Minute, tc.downloadName)
			if err != nil {
				t.Fatal(err)
			}
			status, header, body := fetch(t, http.MethodGet, u.String(), nil)
			if status != http.StatusOK || !bytes.Equal(body, data) {
				t.Fatalf("GET presigned URL: status %d, %d bytes (want 200 and %d bytes)", status, len(body), len(data))
			}
			if got := header.Get("Content-Disposition"); got != tc.wantDisposition {
				t.Fatalf("Content-Disposition = %q, want %q", got, tc.wantDisposition)
			}
		})
	}
	for _, bad := range []string{"../app.apk", "dir/app.apk", `dir\app.apk`, "app\r\n.apk", "..", strings.Repeat("a", 256)} {
		t.Run(fmt.Sprintf("rejects the download name %.20q", bad), func(t *testing.T) {
			_, err := f.store.PresignGet(ctx(t), media.Artifacts, "builds/android/1.4.0/app.apk", time.Minute, bad)
			wantCode(t, err, apperr.Invalid)
		})
	}
}

func TestPresignGetExpires(t *testing.T) {
	f := newFixture(t)
	f.put(t, media.Images, "cover.png", []byte("png"))
	u, err := f.store.PresignGet(ctx(t), media.Images, "cover.png", time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if status, _, body := fetch(t, http.MethodGet, u.String(), nil); status != http.StatusForbidden {
		t.Fatalf("GET expired URL: status %d, body %q; want 403", status, body)
	}
}

func TestPresignPutUploads(t *testing.T) {
	f := newFixture(t)
	u, err := f.store.PresignPut(ctx(t), media.Uploads, "feedback/f1/photo.jpg", 0)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 10_000)
	if status, _, body := fetch(t, http.MethodPut, u.String(), data); status != http.StatusOK {
		t.Fatalf("PUT presigned URL: status %d, body %q", status, body)
	}
	rc, err := f.store.Open(ctx(t), media.Uploads, "feedback/f1/photo.jpg", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, rc), data) {
		t.Fatal("stored bytes differ from the uploaded ones")
	}
	if status, _, _ := fetch(t, http.MethodPut, strings.Replace(u.String(), "photo.jpg", "other.jpg", 1), data); status != http.StatusForbidden {
		t.Fatalf("PUT to another key with the same signature: status %d, want 403", status)
	}
}

func TestClampExpiry(t *testing.T) {
	cases := []struct {
		name     string
		in, want time.Duration
	}{
		{"uses the default for zero", 0, media.DefaultPresignExpiry},
		{"uses the default for a negative expiry", -time.Minute, media.DefaultPresignExpiry},
		{"keeps an expiry within the limit", 2 * time.Minute, 2 * time.Minute},
		{"keeps the maximum", media.MaxPresignExpiry, media.MaxPresignExpiry},
		{"caps a long expiry", 7 * 24 * time.Hour, media.MaxPresignExpiry},
		{"rounds a fraction of a second up", 1500 * time.Millisecond, 2 * time.Second},
		{"rounds a nanosecond up to a second", 1, time.Second},
	}
	f := newFixture(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := media.ClampExpiry(tc.in); got != tc.want {
				t.Fatalf("ClampExpiry(%v) = %v, want %v", tc.in, got, tc.want)
			}
			for _, presign := range []func() (*url.URL, error){
				func() (*url.URL, error) { return f.store.PresignGet(ctx(t), media.Images, "a.png", tc.in, "") },
				func() (*url.URL, error) { return f.store.PresignPut(ctx(t), media.Images, "a.png", tc.in) },
			} {
				u, err := presign()
				if err != nil {
					t.Fatal(err)
				}
				if got := u.Query().Get("X-Amz-Expires"); got != strconv.Itoa(int(tc.want/time.Second)) {
					t.Fatalf("X-Amz-Expires = %s, want %d", got, tc.want/time.Second)
				}
			}
		})
	}
}

func TestPresignUsesThePublicEndpoint(t *testing.T) {
	f := newFixture(t)
	f.put(t, media.Videos, "training/t1/intro.mp4", []byte("mp4 bytes"))
	_, port, _ := strings.Cut(f.endpoint, ":")
	for _, public := range []string{"localhost:" + port, "http://localhost:" + port, "http://localhost:" + port + "/"} {
		t.Run("signs for "+public, func(t *testing.T) {
			cfg := f.cfg
			cfg.PublicEndpoint = public
			store, err := media.NewMinIO(ctx(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			get, err := store.PresignGet(ctx(t), media.Videos, "training/t1/intro.mp4", time.Minute, "")
			if err != nil {
				t.Fatal(err)
			}
			if get.Host != "localhost:"+port || get.Scheme != "http" {
				t.Fatalf("presigned URL %s does not use the public endpoint", get)
			}
			if status, _, body := fetch(t, http.MethodGet, get.String(), nil); status != http.StatusOK || string(body) != "mp4 bytes" {
				t.Fatalf("GET through the public host: status %d, body %q", status, body)
			}
			put, err := store.PresignPut(ctx(t), media.Videos, "training/t1/outro.mp4", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if status, _, body := fetch(t, http.MethodPut, put.String(), []byte("outro")); status != http.StatusOK {
				t.Fatalf("PUT through the public host: status %d, body %q", status, body)
			}
			// Requests other than presigning still go to the internal endpoint.
			if _, err := store.Stat(ctx(t), media.Videos, "training/t1/outro.mp4"); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("signs https URLs for an https public endpoint", func(t *testing.T) {
		cfg := f.cfg
		cfg.PublicEndpoint = "https://files.example.com"
		store, err := media.NewMinIO(ctx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		u, err := store.PresignGet(ctx(t), media.Videos, "training/t1/intro.mp4", time.Minute, "")
		if err != nil {
			t.Fatal(err)
		}
		if u.Scheme != "https" || u.Host != "files.example.com" {
			t.Fatalf("presigned URL %s, want https://files.example.com/...", u)
		}
	})
}

func TestNewMinIORejectsBadEndpoints(t *testing.T) {
	base := media.MinIOConfig{Endpoint: "127.0.0.1:9000", AccessKey: testenv.MinIOAccessKey, SecretKey: testenv.MinIOSecretKey}
	cases := []struct {
		name          string
		endpoint, pub string
	}{
		{"rejects an endpoint with a scheme", "http://127.0.0.1:9000", ""},
		{"rejects an empty endpoint", "", ""},
		{"rejects a public endpoint with a path", "127.0.0.1:9000", "https://files.example.com/minio"},
		{"rejects a public endpoint with another scheme", "127.0.0.1:9000", "ftp://files.example.com"},
		{"rejects a public endpoint with credentials", "127.0.0.1:9000", "https://user:pw@files.example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.Endpoint, cfg.PublicEndpoint = tc.endpoint, tc.pub
			if _, err := media.NewMinIO(ctx(t), cfg); err == nil {
				t.Fatal("NewMinIO accepted the configuration")
			}
		})
	}
}
