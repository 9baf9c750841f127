package upload_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
)

func TestUploadResumesAfterAnInterruptedPatch(t *testing.T) {
	f := newFixture(t)
	file := pngFile(6<<20 + 123) // more than one 5 MiB S3 part
	loc := f.create(t, "alice", len(file), meta("alice"))

	wantStatus(t, f.patch(t, "alice", loc, 0, file[:1<<20]), http.StatusNoContent)
	// The second PATCH announces 4 MiB but the connection drops after 3 MiB.
	cut := 1<<20 + 3<<20
	f.interruptedPatch(t, "alice", loc, 1<<20, file[1<<20:5<<20], cut-1<<20)
	got := f.eventualOffset(t, "alice", loc, cut)
	if got != cut {
		t.Fatalf("offset after the interruption %d, want the %d bytes that arrived", got, cut)
	}
	wantStatus(t, f.patch(t, "alice", loc, got, file[got:]), http.StatusNoContent)

	done := f.completedUploads()
	if len(done) != 1 {
		t.Fatalf("Complete called %d times, want once", len(done))
	}
	in := done[0]
	if in.Size != int64(len(file)) || in.UserID != "alice" || in.ContentType != "image/png" ||
		in.Bucket != media.Uploads || in.Filename != "photo.png" || in.Meta["record_id"] != "rec-alice" {
		t.Fatalf("Complete got %+v", in)
	}
	f.wantObject(t, in.Key, file)
	t.Run("a PATCH after completion changes nothing", func(t *testing.T) {
		wantStatus(t, f.patch(t, "alice", loc, len(file), nil), http.StatusNoContent)
		if n := len(f.completedUploads()); n != 1 {
			t.Fatalf("Complete called %d times", n)
		}
	})
}

func TestSmallUploadInOnePatch(t *testing.T) {
	f := newFixture(t)
	file := pngFile(1000)
	loc := f.create(t, "bob", len(file), meta("bob"))
	resp := f.patch(t, "bob", loc, 0, file)
	wantStatus(t, resp, http.StatusNoContent)
	if resp.Header.Get("Upload-Offset") != strconv.Itoa(len(file)) {
		t.Fatalf("Upload-Offset %q", resp.Header.Get("Upload-Offset"))
	}
	done := f.completedUploads()
	if len(done) != 1 {
		t.Fatalf("Complete called %d times", len(done))
	}
	f.wantObject(t, done[0].Key, file)
}

// interruptedPatch sends a PATCH declaring len(chunk) bytes, writes only the first n and
// closes the connection, as a phone losing its network does.
func (f *fixture) interruptedPatch(t *testing.T, user, loc string, offset int, chunk []byte, n int) {
	t.Helper()
	u, err := url.Parse(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	path := loc
	if lu, err := url.Parse(loc); err == nil && lu.Path != "" {
		path = lu.Path
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\n%s: %s\r\n"+
		"Upload-Offset: %d\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n",
		path, u.Host, userHeader, user, offset, len(chunk))
	reached := f.gate.arm(int64(n))
	if _, err := io.Copy(conn, io.MultiReader(bytes.NewReader([]byte(head)), bytes.NewReader(chunk[:n]))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-ctx(t).Done():
		t.Fatal("the server never read the bytes sent")
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
}

// eventualOffset asks for the offset until it reaches want (the interrupted PATCH may still be
// saving what it received) or a bound passes, and returns the last offset seen.
func (f *fixture) eventualOffset(t *testing.T, user, loc string, want int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := f.offset(t, user, loc)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *fixture) wantObject(t *testing.T, key string, want []byte) {
	t.Helper()
	got := testenv.Object(t, f.store, media.Uploads, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("object %s has %d bytes and differs from the %d uploaded", key, len(got), len(want))
	}
}

func (f *fixture) wantNoObject(t *testing.T, key string) {
	t.Helper()
	if _, err := f.store.Stat(ctx(t), media.Uploads, key); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("object %s: Stat error %v, want not_found", key, err)
	}
}
