package upload_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
)

// TestProblemsNameTheHeader checks that a tus client learns which header was wrong, whether
// tusd or this package found it: every error is a problem document with a code and a field.
func TestProblemsNameTheHeader(t *testing.T) {
	f := newFixture(t)
	loc := f.create(t, "olga", 100, meta("olga"))
	created := map[string]string{"Upload-Metadata": encode(meta("olga"))}
	with := func(h map[string]string) map[string]string {
		for k, v := range created {
			if _, ok := h[k]; !ok {
				h[k] = v
			}
		}
		return h
	}
	cases := []struct {
		name    string
		method  string
		url     string
		headers map[string]string
		status  int
		code    apperr.Code
		field   string
	}{
		{"a malformed Upload-Length", http.MethodPost, basePath, with(map[string]string{"Upload-Length": "ten"}),
			http.StatusBadRequest, apperr.Invalid, "Upload-Length"},
		{"a deferred length", http.MethodPost, basePath, with(map[string]string{"Upload-Defer-Length": "1"}),
			http.StatusBadRequest, apperr.Invalid, "Upload-Length"},
		{"a length over the purpose's limit", http.MethodPost, basePath, with(map[string]string{"Upload-Length": strconv.Itoa(80<<20 + 1)}),
			http.StatusRequestEntityTooLarge, apperr.TooLarge, "Upload-Length"},
		{"an unknown purpose", http.MethodPost, basePath, map[string]string{"Upload-Length": "10",
			"Upload-Metadata": encode(map[string]string{"purpose": "anything"})}, http.StatusBadRequest, apperr.Invalid, "Upload-Metadata"},
		{"a type the purpose does not allow", http.MethodPost, basePath, map[string]string{"Upload-Length": "10",
			"Upload-Metadata": encode(map[string]string{"purpose": testPurpose, "filetype": "text/html", "record_id": "rec-olga"})},
			http.StatusUnsupportedMediaType, apperr.UnsupportedMedia, "Upload-Metadata"},
		{"a malformed Upload-Offset", http.MethodPatch, loc, map[string]string{"Upload-Offset": "x",
			"Content-Type": "application/offset+octet-stream"}, http.StatusBadRequest, apperr.Invalid, "Upload-Offset"},
		{"a wrong Upload-Offset", http.MethodPatch, loc, map[string]string{"Upload-Offset": "7",
			"Content-Type": "application/offset+octet-stream"}, http.StatusConflict, apperr.Conflict, "Upload-Offset"},
		{"a PATCH body of the wrong type", http.MethodPatch, loc, map[string]string{"Upload-Offset": "0",
			"Content-Type": "application/json"}, http.StatusBadRequest, apperr.Invalid, "Content-Type"},
		{"an unsupported protocol version", http.MethodPatch, loc, map[string]string{"Tus-Resumable": "0.2.2",
			"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, http.StatusPreconditionFailed, apperr.Invalid, "Tus-Resumable"},
	}
	for _, tc := range cases {
		t.Run("names the header of "+tc.name, func(t *testing.T) {
			resp := f.request(t, tc.method, tc.url, "olga", tc.headers, []byte("0123456789"))
			if p := wantProblem(t, resp, tc.status, tc.code); p.Field != tc.field {
				t.Fatalf("problem %+v names field %q, want %q", p, p.Field, tc.field)
			}
		})
	}
}
