package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/upload"
)

// e2ePurpose is an upload purpose the test registers on the running server, so that the
// generic tus endpoint is exercised without any domain's rules.
const e2ePurpose = "e2e_photo"

type completions struct {
	mu    sync.Mutex
	infos []upload.Info
}

func (c *completions) add(_ context.Context, _ *auth.Principal, in upload.Info) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.infos = append(c.infos, in)
	return nil
}

func (c *completions) list() []upload.Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]upload.Info(nil), c.infos...)
}

func TestUploadResumableThroughTheAPI(t *testing.T) {
	// A small body limit, so that one PATCH of a small file is over it.
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_BODY_LIMIT": "65536", "MPORTAL_IMPORT_BODY_LIMIT": "65536"}))
	done := &completions{}
	ts.main.uploads.Register(upload.Purpose{
		Name: e2ePurpose, MaxSize: 1 << 20, ContentTypes: []string{"image/png"},
		Authorize: func(context.Context, *auth.Principal, map[string]string) error { return nil },
		Complete:  done.add,
	})
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "admin-laptop").AccessToken
	aliceID, otp := ts.createUser(admin, map[string]any{"employee_no": "UP1", "name": "Alice"})
	alice := ts.signIn("UP1", otp, "UP1-passphrase", "UP1-phone").AccessToken
	_, otp = ts.createUser(admin, map[string]any{"employee_no": "UP2", "name": "Bob"})
	bob := ts.signIn("UP2", otp, "UP2-passphrase", "UP2-phone").AccessToken

	file := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("pixels"), 500)...)
	create := func(token string, size int) response {
		return ts.call("POST", "/v1/uploads", token, nil, tus, withHeader("Upload-Length", strconv.Itoa(size)),
			withHeader("Upload-Metadata", upload.EncodeMetadata(map[string]string{
				"purpose": e2ePurpose, "filetype": "image/png", "filename": "shot.png", "user_id": "someone-else"})))
	}
	patch := func(token, path string, offset int, chunk []byte) response {
		return ts.call("PATCH", path, token, string(chunk), tus, withHeader("Upload-Offset", strconv.Itoa(offset)),
			withHeader("Content-Type", "application/offset+octet-stream"))
	}
	path := uploadPath(t, ts.must(create(alice, len(file)), 201).header.Get("Location"))

	ts.must(patch(alice, path, 0, file[:1000]), 204)
	if got := ts.must(ts.call("HEAD", path, alice, nil, tus), 200).header.Get("Upload-Offset"); got != "1000" {
		t.Fatalf("Upload-Offset %q after the first chunk, want 1000", got)
	}
	resumeAt := 1000
	t.Run("a chunk cut off by a lost connection is resumed from the server's offset", func(t *testing.T) {
		ts := ts.with(t)
		cutPatch(t, ts.base, path, alice, 1000, file[1000:], 700)
		// fasthttp reads a body of up to 8 KiB before the handler runs, so nothing of this cut
		// chunk is kept; a larger one is streamed to tusd, which keeps the bytes that came
		// (TestTrainingVideoFromUploadToPlayback).
		got, err := strconv.Atoi(ts.must(ts.call("HEAD", path, alice, nil, tus), 200).header.Get("Upload-Offset"))
		if err != nil || got != 1000 {
			t.Fatalf("Upload-Offset %d (%v) after the cut chunk, want 1000", got, err)
		}
		resumeAt = got
	})
	t.Run("another user's upload is 404", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("HEAD", path, bob, nil, tus), 404)
		if r := ts.must(patch(bob, path, 1000, file[1000:]), 404); r.problemCode() != "not_found" {
			t.Fatalf("problem code %q", r.problemCode())
		}
		ts.must(ts.call("DELETE", path, bob, nil, tus), 404)
	})
	t.Run("a wrong offset is a conflict", func(t *testing.T) {
		ts := ts.with(t)
		if r := ts.must(patch(alice, path, 500, file[500:]), 409); r.problemCode() != "conflict" {
			t.Fatalf("problem code %q", r.problemCode())
		}
	})
	t.Run("a malformed header is a problem naming it, from the API's one mapping", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("PATCH", path, alice, "x", tus, offContract, withHeader("Upload-Offset", "soon"),
			withHeader("Content-Type", "application/offset+octet-stream")), 400)
		var p struct {
			Code, Field string
			RequestID   string `json:"request_id"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil || p.Code != "invalid" || p.Field != "Upload-Offset" ||
			p.RequestID == "" || p.RequestID != r.header.Get("X-Request-ID") {
			t.Fatalf("problem %s (%v)", r.body, err)
		}
	})
	t.Run("without a token it is 401", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(create("", len(file)), 401)
		ts.must(patch("", path, 1000, file[1000:]), 401)
	})
	t.Run("a file over the purpose's limit is refused before it is stored", func(t *testing.T) {
		ts := ts.with(t)
		if r := ts.must(create(alice, 1<<20+1), 413); r.problemCode() != "too_large" {
			t.Fatalf("problem code %q", r.problemCode())
		}
	})

	r := ts.must(patch(alice, path, resumeAt, file[resumeAt:]), 204)
	if r.header.Get("Upload-Offset") != strconv.Itoa(len(file)) {
		t.Fatalf("Upload-Offset %q at the end", r.header.Get("Upload-Offset"))
	}
	infos := done.list()
	if len(infos) != 1 || infos[0].UserID != aliceID || infos[0].Size != int64(len(file)) || infos[0].ContentType != "image/png" {
		t.Fatalf("completed %+v, want one upload of %d bytes by %s", infos, len(file), aliceID)
	}

	t.Run("one PATCH over the server's body limit carries a whole file", func(t *testing.T) {
		ts := ts.with(t)
		big := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("pixels"), 100_000)...) // 600 KB > 64 KiB
		path := uploadPath(t, ts.must(create(alice, len(big)), 201).header.Get("Location"))
		if r := ts.must(patch(alice, path, 0, big), 204); r.header.Get("Upload-Offset") != strconv.Itoa(len(big)) {
			t.Fatalf("Upload-Offset %q, want %d", r.header.Get("Upload-Offset"), len(big))
		}
		infos := done.list()
		if last := infos[len(infos)-1]; last.Size != int64(len(big)) {
			t.Fatalf("completed %+v, want %d bytes", last, len(big))
		}
		// Any other route still refuses a body over the limit, unread.
		login := `{"login":"` + strings.Repeat("a", 70_000) + `"}`
		if r := ts.must(ts.call("POST", "/v1/auth/login", "", login, offContract), 413); r.problemCode() != "too_large" {
			t.Fatalf("problem code %q", r.problemCode())
		}
	})
	t.Run("the creator can give an upload up", func(t *testing.T) {
		ts := ts.with(t)
		path := uploadPath(t, ts.must(create(alice, len(file)), 201).header.Get("Location"))
		ts.must(patch(alice, path, 0, file[:10]), 204)
		ts.must(ts.call("DELETE", path, alice, nil, tus), 204)
		ts.must(ts.call("HEAD", path, alice, nil, tus), 404)
	})
}

// cutPatch sends a PATCH that announces all of chunk but closes the connection after n bytes,
// as a phone losing its network does.
func cutPatch(t *testing.T, base, path, token string, offset int, chunk []byte, n int) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Upload-Offset: %d\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n",
		path, u.Host, token, offset, len(chunk))
	if _, err := conn.Write(append([]byte(head), chunk[:n]...)); err != nil {
		t.Fatal(err)
	}
	// The client stops sending; wait for the server's answer, so that it is done with the chunk.
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, conn)
}

// tus marks a request as tus 1.0.0.
func tus(r *http.Request) { r.Header.Set("Tus-Resumable", "1.0.0") }

// uploadPath returns the path of an upload's Location.
func uploadPath(t *testing.T, location string) string {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || u.Path == "" {
		t.Fatalf("Location %q: %v", location, err)
	}
	return u.Path
}
