package api

import (
	"net/http"

	"github.com/mportal/mportal/internal/upload"
)

// Uploads is the resumable-upload (tus) endpoint, upload.Service. Its handler reads the caller
// from the request context (upload.WithPrincipal) and hands every error to problems, the API's
// error mapping (HTTPProblems): unauthorized without a caller, not_found for an upload that is
// not the caller's, conflict for a wrong offset, too_large over a purpose's size limit,
// unsupported_media_type for a type the purpose does not allow, invalid for other bad input,
// and tusd's own errors with the statuses the tus protocol prescribes.
type Uploads interface {
	Handler(problems upload.ProblemWriter) http.Handler
}

var _ Uploads = (*upload.Service)(nil)
