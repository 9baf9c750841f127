package api

import (
	"net/http"

	"github.com/mportal/mportal/internal/upload"
)

// Uploads is the resumable-upload (tus) endpoint, upload.Service. Its handler reads the caller
// from the request context (upload.WithPrincipal) and answers errors itself, as problem
// documents with the statuses the tus protocol prescribes: 401 without a caller, 404 for an
// upload that is not the caller's, 409 for a wrong offset, 413 over a purpose's size limit,
// 415 for a type the purpose does not allow, 400 for other bad input.
type Uploads interface {
	Handler() http.Handler
}

var _ Uploads = (*upload.Service)(nil)
