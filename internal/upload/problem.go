package upload

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/mportal/mportal/internal/apperr"
)

// ProblemWriter answers r with err as a problem document. It is the API's one error mapping
// (api/errors.go), handed to Handler: this package decides no HTTP status itself. err is an
// *apperr.Error from this package or a purpose (or any other error, which is internal), or a
// tusd.Error that tusd answered with itself, carrying the status the tus protocol prescribes.
type ProblemWriter func(w http.ResponseWriter, r *http.Request, err error)

// failure holds the error a tus hook failed with, so the problem is written from it (code,
// message, field) rather than from the text tusd makes of it.
type failure struct {
	mu  sync.Mutex
	err error
}

type failureKey struct{}

func (f *failure) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *failure) take() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.err
	f.err = nil
	return err
}

// tusError records err, a hook's failure, for the request's problem and returns the error tusd
// answers with. tusd's answer is only a placeholder: problemWriter replaces it with the
// ProblemWriter's document for err, so its status is never sent.
func (s *Service) tusError(ctx context.Context, err error) error {
	if f, ok := ctx.Value(failureKey{}).(*failure); ok {
		f.set(err)
	}
	return tusd.NewError(string(apperr.CodeOf(err)), "see the problem document", http.StatusInternalServerError)
}

// problemWriter lets success responses through and hands every error response, tusd's plain
// text ones included, to the ProblemWriter, so tus clients get the statuses the protocol
// prescribes and the apps get the same error format as everywhere else.
type problemWriter struct {
	http.ResponseWriter
	r        *http.Request
	problems ProblemWriter
	failure  *failure
	status   int // an error status held back until finish; 0 otherwise
	body     bytes.Buffer
}

// Unwrap lets tusd's http.ResponseController reach the connection (read deadlines).
func (w *problemWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *problemWriter) WriteHeader(status int) {
	if status >= http.StatusBadRequest {
		w.status = status
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *problemWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		return w.ResponseWriter.Write(b)
	}
	if w.body.Len() < 4096 {
		w.body.Write(b[:min(len(b), 4096-w.body.Len())])
	}
	return len(b), nil
}

// fail answers err at once; the tus handler is not involved.
func (w *problemWriter) fail(err error) {
	w.status = 0
	w.body.Reset()
	w.problems(w.ResponseWriter, w.r, err)
}

// finish answers the held-back error, if any: a hook's own error, or the one tusd raised.
func (w *problemWriter) finish() {
	if w.status == 0 {
		return
	}
	status := w.status
	w.status = 0
	err := w.failure.take()
	if err == nil {
		err = parseTusError(w.body.String(), status)
	}
	w.problems(w.ResponseWriter, w.r, err)
}

// parseTusError reads tusd's "ERR_CODE: message" error body back into the error tusd sent. A
// HEAD answer has no body: its error has only the status.
func parseTusError(body string, status int) tusd.Error {
	code, msg, _ := strings.Cut(strings.TrimSpace(body), ": ")
	return tusd.NewError(code, msg, status)
}
