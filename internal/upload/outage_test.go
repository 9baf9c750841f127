package upload_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/testenv"
)

// TestStorageOutage checks what a tus client sees while MinIO is down: every request is answered
// 503 with Retry-After (tusd would answer 500 to a storage error it does not know), the upload's
// bytes stay put, and it resumes where it was once MinIO is back.
func TestStorageOutage(t *testing.T) {
	minio := testenv.NewProxy(t, testenv.MinIOEndpoint(t))
	f := newFixtureVia(t, minio.Addr())
	file := pngFile(1000)
	loc := f.create(t, "ruth", len(file), meta("ruth"))
	wantStatus(t, f.patch(t, "ruth", loc, 0, file[:400]), http.StatusNoContent)

	minio.SetDown(true)
	unavailable := func(name string, resp *http.Response) {
		t.Helper()
		wantProblem(t, resp, http.StatusServiceUnavailable, apperr.Unavailable)
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s <= 0 {
			t.Fatalf("%s: Retry-After %q, want a number of seconds", name, resp.Header.Get("Retry-After"))
		}
	}
	unavailable("POST", f.request(t, http.MethodPost, basePath, "ruth", map[string]string{
		"Upload-Length": "10", "Upload-Metadata": encode(meta("ruth"))}, nil))
	unavailable("HEAD", f.request(t, http.MethodHead, loc, "ruth", nil, nil))
	unavailable("PATCH", f.patch(t, "ruth", loc, 400, file[400:]))

	minio.SetDown(false)
	if got := f.offset(t, "ruth", loc); got != 400 {
		t.Fatalf("after the outage the offset is %d, want 400", got)
	}
	wantStatus(t, f.patch(t, "ruth", loc, 400, file[400:]), http.StatusNoContent)
	if got := f.completedUploads(); len(got) != 1 || got[0].Size != int64(len(file)) {
		t.Fatalf("completed uploads %+v, want the one of %d bytes", got, len(file))
	}
}
