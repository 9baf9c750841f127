package upload_test

import (
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/upload"
)

func TestCreationIsChecked(t *testing.T) {
	f := newFixture(t)
	with := func(changes map[string]string) map[string]string {
		m := meta("carol")
		maps.Copy(m, changes)
		for k, v := range changes {
			if v == "" {
				delete(m, k)
			}
		}
		return m
	}
	cases := []struct {
		name   string
		size   int
		meta   map[string]string
		status int
		code   apperr.Code
	}{
		{"rejects a file over the purpose's limit", 80<<20 + 1, meta("carol"), http.StatusRequestEntityTooLarge, apperr.TooLarge},
		{"rejects an empty file", 0, meta("carol"), http.StatusBadRequest, apperr.Invalid},
		{"rejects an unknown purpose", 10, with(map[string]string{"purpose": "anything"}), http.StatusBadRequest, apperr.Invalid},
		{"rejects a missing purpose", 10, with(map[string]string{"purpose": ""}), http.StatusBadRequest, apperr.Invalid},
		{"rejects a declared type the purpose does not allow", 10, with(map[string]string{"filetype": "text/html"}), http.StatusUnsupportedMediaType, apperr.UnsupportedMedia},
		{"rejects a missing type", 10, with(map[string]string{"filetype": ""}), http.StatusUnsupportedMediaType, apperr.UnsupportedMedia},
		{"passes the purpose's refusal on", 10, with(map[string]string{"record_id": "rec-dave"}), http.StatusNotFound, apperr.NotFound},
		{"rejects oversized metadata", 10, with(map[string]string{"note": strings.Repeat("x", 2000)}), http.StatusBadRequest, apperr.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.request(t, http.MethodPost, basePath, "carol", map[string]string{
				"Upload-Length": strconv.Itoa(tc.size), "Upload-Metadata": encode(tc.meta)}, nil)
			wantProblem(t, resp, tc.status, tc.code)
		})
	}
	t.Run("rejects a deferred length and concatenation", func(t *testing.T) {
		for _, h := range []map[string]string{{"Upload-Defer-Length": "1"}, {"Upload-Concat": "partial", "Upload-Length": "10"}} {
			h["Upload-Metadata"] = encode(meta("carol"))
			wantProblem(t, f.request(t, http.MethodPost, basePath, "carol", h, nil), http.StatusBadRequest, apperr.Invalid)
		}
	})
	t.Run("answers 401 without a caller", func(t *testing.T) {
		resp := f.request(t, http.MethodPost, basePath, "", map[string]string{
			"Upload-Length": "10", "Upload-Metadata": encode(meta("carol"))}, nil)
		wantProblem(t, resp, http.StatusUnauthorized, apperr.Unauthorized)
	})
}

func TestWrongContentIsRejectedAndDeleted(t *testing.T) {
	f := newFixture(t)
	file := []byte(strings.Repeat("<html><body>not a photo</body></html>", 40))
	loc := f.create(t, "erin", len(file), meta("erin"))
	wantProblem(t, f.patch(t, "erin", loc, 0, file), http.StatusUnsupportedMediaType, apperr.UnsupportedMedia)
	if n := len(f.completedUploads()); n != 0 {
		t.Fatalf("Complete called %d times for a rejected upload", n)
	}
	key := keyOf(loc)
	f.wantNoObject(t, key)
	f.wantNoObject(t, key+".info")
	wantProblem(t, f.request(t, http.MethodHead, loc, "erin", nil, nil), http.StatusNotFound, apperr.NotFound)
	if got := f.rejected(); len(got) != 1 || !strings.HasPrefix(got[0], "text/html: the file's content is text/html") {
		t.Fatalf("the purpose was told %q, want one rejection with the reason", got)
	}

	t.Run("a JPEG declared as PNG is rejected too", func(t *testing.T) {
		jpeg := append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), make([]byte, 600)...)
		loc := f.create(t, "erin", len(jpeg), meta("erin"))
		wantProblem(t, f.patch(t, "erin", loc, 0, jpeg), http.StatusUnsupportedMediaType, apperr.UnsupportedMedia)
		f.wantNoObject(t, keyOf(loc))
	})
	t.Run("when the purpose cannot record the rejection, the cleanup worker rejects it again", func(t *testing.T) {
		before := len(f.rejected())
		f.mu.Lock()
		f.failRejects = 1
		f.mu.Unlock()
		loc := f.create(t, "erin", len(file), meta("erin"))
		wantProblem(t, f.patch(t, "erin", loc, 0, file), http.StatusServiceUnavailable, apperr.Unavailable)
		f.wantObject(t, keyOf(loc), file) // kept until the rejection is recorded
		if n, err := f.svc.CleanupAbandoned(ctx(t), 24*time.Hour); err != nil || n != 1 {
			t.Fatalf("CleanupAbandoned = %d, %v; want the upload deleted", n, err)
		}
		f.wantNoObject(t, keyOf(loc))
		if got := f.rejected(); len(got) != before+1 {
			t.Fatalf("rejections %q, want one more", got)
		}
	})
}

func TestContentThePurposeRefusesIsDeleted(t *testing.T) {
	f := newFixture(t)
	f.refuseNext = 1
	file := pngFile(2000)
	loc := f.create(t, "judy", len(file), meta("judy"))
	wantProblem(t, f.patch(t, "judy", loc, 0, file), http.StatusBadRequest, apperr.Invalid)
	f.wantNoObject(t, keyOf(loc))
	f.wantNoObject(t, keyOf(loc)+".info")
	// Settled: the cleanup worker does not complete it later.
	if n, err := f.svc.CleanupAbandoned(ctx(t), 0); err != nil || n != 0 || len(f.completedUploads()) != 0 {
		t.Fatalf("the refused upload was touched again: %d, %v, %d completions", n, err, len(f.completedUploads()))
	}
}

// TestUploadRolesAreCheckedOnEveryWrite: a purpose that needs a role (training videos: ops)
// checks it at creation and on every PATCH with the uploader's current roles. Before, an ops
// user demoted mid-upload could still send the rest and finish it.
func TestUploadRolesAreCheckedOnEveryWrite(t *testing.T) {
	f := newFixture(t)
	file := pngFile(4000)
	m := map[string]string{"purpose": opsPurpose, "filetype": "image/png"}
	resp := f.request(t, http.MethodPost, basePath, "erin", map[string]string{"Upload-Length": "4000", "Upload-Metadata": encode(m)}, nil)
	wantProblem(t, resp, http.StatusForbidden, apperr.Forbidden)

	f.setRoles("olga", auth.RoleOps)
	loc := f.create(t, "olga", len(file), m)
	wantStatus(t, f.patch(t, "olga", loc, 0, file[:1000]), http.StatusNoContent)
	f.setRoles("olga", auth.RoleEmployee) // demoted mid-upload
	wantProblem(t, f.patch(t, "olga", loc, 1000, file[1000:]), http.StatusForbidden, apperr.Forbidden)
	if got := f.offset(t, "olga", loc); got != 1000 || len(f.completedUploads()) != 0 {
		t.Fatalf("offset %d, %d completed: the refused PATCH wrote", got, len(f.completedUploads()))
	}
	f.setRoles("olga", auth.RoleOps)
	wantStatus(t, f.patch(t, "olga", loc, 1000, file[1000:]), http.StatusNoContent)
	if done := f.completedUploads(); len(done) != 1 || done[0].UserID != "olga" {
		t.Fatalf("completed %+v", done)
	}
}

func TestUploadsArePrivateToTheirCreator(t *testing.T) {
	f := newFixture(t)
	file := pngFile(4000)
	loc := f.create(t, "frank", len(file), meta("frank"))
	wantStatus(t, f.patch(t, "frank", loc, 0, file[:1000]), http.StatusNoContent)

	for _, method := range []string{http.MethodHead, http.MethodPatch, http.MethodDelete} {
		t.Run(method+" by another user is 404", func(t *testing.T) {
			resp := f.request(t, method, loc, "grace", map[string]string{
				"Upload-Offset": "1000", "Content-Type": "application/offset+octet-stream"}, file[1000:])
			wantProblem(t, resp, http.StatusNotFound, apperr.NotFound)
		})
	}
	t.Run("an unknown upload is the same 404", func(t *testing.T) {
		wantProblem(t, f.request(t, http.MethodHead, basePath+"0123+abc", "grace", nil, nil), http.StatusNotFound, apperr.NotFound)
		wantProblem(t, f.request(t, http.MethodHead, basePath+"nonsense", "grace", nil, nil), http.StatusNotFound, apperr.NotFound)
	})
	t.Run("without a caller every method is 401", func(t *testing.T) {
		for _, method := range []string{http.MethodHead, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			wantProblem(t, f.request(t, method, loc, "", nil, nil), http.StatusUnauthorized, apperr.Unauthorized)
		}
	})
	t.Run("a forged user_id is replaced by the creator", func(t *testing.T) {
		m := meta("grace")
		m["user_id"] = "frank"
		loc := f.create(t, "grace", 100, m)
		wantStatus(t, f.patch(t, "grace", loc, 0, pngFile(100)), http.StatusNoContent)
		done := f.completedUploads()
		if got := done[len(done)-1].UserID; got != "grace" {
			t.Fatalf("UserID %q, want grace", got)
		}
	})
	t.Run("a PATCH declaring a length is a client error", func(t *testing.T) {
		resp := f.request(t, http.MethodPatch, loc, "frank", map[string]string{"Upload-Offset": "1000",
			"Upload-Length": "10", "Content-Type": "application/offset+octet-stream"}, file[1000:1001])
		wantProblem(t, resp, http.StatusBadRequest, apperr.Invalid)
	})
	t.Run("the owner still resumes, and a wrong offset is a conflict", func(t *testing.T) {
		if got := f.offset(t, "frank", loc); got != 1000 {
			t.Fatalf("offset %d, want 1000", got)
		}
		wantProblem(t, f.patch(t, "frank", loc, 999, file[999:]), http.StatusConflict, apperr.Conflict)
		wantStatus(t, f.patch(t, "frank", loc, 1000, file[1000:]), http.StatusNoContent)
	})
	t.Run("the owner can delete an upload in progress", func(t *testing.T) {
		loc := f.create(t, "frank", 500, meta("frank"))
		wantStatus(t, f.patch(t, "frank", loc, 0, pngFile(500)[:100]), http.StatusNoContent)
		wantStatus(t, f.request(t, http.MethodDelete, loc, "frank", nil, nil), http.StatusNoContent)
		wantProblem(t, f.request(t, http.MethodHead, loc, "frank", nil, nil), http.StatusNotFound, apperr.NotFound)
		f.wantNoObject(t, keyOf(loc)+".info")
	})
	t.Run("a finished upload cannot be deleted: it is the file its purpose points at", func(t *testing.T) {
		// Before, the owner's DELETE removed a photo already attached, past the purpose's own
		// rules on deletion, and its links answered 404.
		done := pngFile(300)
		loc := f.create(t, "frank", len(done), meta("frank"))
		wantStatus(t, f.patch(t, "frank", loc, 0, done), http.StatusNoContent)
		wantProblem(t, f.request(t, http.MethodDelete, loc, "frank", nil, nil), http.StatusConflict, apperr.Conflict)
		f.wantObject(t, keyOf(loc), done)
		if got := f.offset(t, "frank", loc); got != len(done) {
			t.Fatalf("offset %d after the refused delete, want %d", got, len(done))
		}
	})
}

// keyOf returns the object key of an upload URL.
func keyOf(loc string) string {
	id := loc[strings.LastIndex(loc, "/")+1:]
	return "tus/" + id[:strings.LastIndex(id, "+")]
}

// TestUnfinishedUploadsAreBounded: a user may have upload.DefaultMaxOpen unfinished uploads;
// the next creation is 429 with Retry-After until one is finished or deleted. Before, a user
// could open any number, each holding up to its purpose's size for the 24 hours before cleanup.
func TestUnfinishedUploadsAreBounded(t *testing.T) {
	f := newFixture(t)
	file := pngFile(100)
	var locs []string
	for range upload.DefaultMaxOpen {
		locs = append(locs, f.create(t, "uma", len(file), meta("uma")))
	}
	create := func() *http.Response {
		return f.request(t, http.MethodPost, basePath, "uma", map[string]string{
			"Upload-Length": "100", "Upload-Metadata": encode(meta("uma"))}, nil)
	}
	resp := create()
	wantProblem(t, resp, http.StatusTooManyRequests, apperr.RateLimited)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	f.create(t, "vic", len(file), meta("vic")) // another user is not held back

	wantStatus(t, f.request(t, http.MethodDelete, locs[0], "uma", nil, nil), http.StatusNoContent)
	locs = append(locs, f.create(t, "uma", len(file), meta("uma")))
	wantProblem(t, create(), http.StatusTooManyRequests, apperr.RateLimited)

	wantStatus(t, f.patch(t, "uma", locs[1], 0, file), http.StatusNoContent) // finished
	f.create(t, "uma", len(file), meta("uma"))
}
