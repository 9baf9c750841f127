package api

import (
	"net/http"
	"testing"

	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// A tus request that waited too long for the upload's lock (another request of the same upload
// holds it, e.g. the last PATCH probing a video) is told to retry: tusd answers it 500, which
// made it a logged internal error without Retry-After.
func TestATusLockTimeoutIsUnavailable(t *testing.T) {
	p, _, unexpected := problemFor(tusd.ErrLockTimeout)
	if p.Status != http.StatusServiceUnavailable || p.Code != "unavailable" || unexpected {
		t.Fatalf("problem %+v, unexpected %v", p, unexpected)
	}
}
