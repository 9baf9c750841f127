package upload_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/upload"
)

// meta is the metadata of a valid test_photo upload by user.
func meta(user string) map[string]string {
	return map[string]string{"purpose": testPurpose, "filetype": "image/png", "filename": "photo.png",
		"record_id": "rec-" + user}
}

// pngFile returns size bytes that sniff as PNG.
func pngFile(size int) []byte {
	b := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	copy(b, "\x89PNG\r\n\x1a\n")
	for i := 8; i < size; i += 4093 {
		b[i] = byte(i / 4093)
	}
	return b
}

func wantStatus(t testing.TB, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

// problem is the part of a problem document the tests look at.
type problem struct{ Code, Detail, Field string }

// wantProblem checks status and problem code of an error response and returns the document
// (empty for HEAD, whose answer has no body).
func wantProblem(t testing.TB, resp *http.Response, status int, code apperr.Code) problem {
	t.Helper()
	wantStatus(t, resp, status)
	var p problem
	if resp.Request.Method == http.MethodHead {
		return p
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Code != string(code) {
		t.Fatalf("problem code %q (%s), want %q", p.Code, p.Detail, code)
	}
	return p
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// encode renders tus metadata.
func encode(meta map[string]string) string { return upload.EncodeMetadata(meta) }
