package contracttest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client returns an HTTP client whose every exchange is checked against the contract. The
// request is validated before it is sent and the response after it arrives (its body is
// buffered and handed back unread); each mismatch is reported with tb.Errorf, naming the
// method, path and status, and never stops the exchange, so a test sees exactly what the
// server said. A response must use only the statuses and headers its operation declares
// (HTTP's own framing, caching and CORS headers aside), and send no Content-Type where the
// contract documents no body. base carries the requests; nil means http.DefaultTransport.
//
// Authentication is not checked: any bearer token, or none, satisfies the contract's security
// requirements, so tests can probe 401s freely. Use OffContract for requests that break the
// contract on purpose.
func (s *Spec) Client(tb testing.TB, base http.RoundTripper) *http.Client {
	if base == nil {
		base = http.DefaultTransport
	}
	// A bound, not a target: a handler that stalls fails the one request that met it, named,
	// instead of the package's 30-minute timeout.
	return &http.Client{Transport: &transport{spec: s, tb: tb, base: base}, Timeout: 2 * time.Minute}
}

type offContractKey struct{}

// OffContract marks req as a deliberate breach of the contract, for negative tests: a missing
// field, malformed JSON, a wrong Content-Type, an unknown endpoint. The harness then does not
// report the request's own mismatches, but it reports a server that answers such a request
// with success (a status below 400): a server more lenient than its contract lets clients
// come to depend on what the contract forbids. It still validates the response against the
// matched operation, and when no operation matches requires the response to be a problem
// document.
func OffContract(req *http.Request) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), offContractKey{}, true))
}

func isOffContract(req *http.Request) bool {
	off, _ := req.Context().Value(offContractKey{}).(bool)
	return off
}

// transport is the validating http.RoundTripper behind Client.
type transport struct {
	spec *Spec
	tb   testing.TB
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	reqBody, err := drain(req.Body)
	if err != nil {
		return nil, fmt.Errorf("contracttest: read request body: %w", err)
	}
	ex := t.spec.checkRequest(req, reqBody)

	// A RoundTripper must not modify the caller's request, and the body was consumed above.
	out := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = io.NopCloser(bytes.NewReader(reqBody))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		if len(ex.problems) > 0 {
			t.report(req, "no response", ex.problems)
		}
		return nil, err
	}

	respBody, readErr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(respBody), errReader{readErr}))
	if readErr == nil {
		ex.problems = append(ex.problems, t.spec.checkResponse(ex, resp, respBody)...)
	}
	if len(ex.problems) > 0 {
		t.report(req, resp.Status, ex.problems)
	}
	return resp, nil
}

func (t *transport) report(req *http.Request, status string, problems []string) {
	t.tb.Errorf("contract violation: %s %s -> %s:\n\t%s",
		req.Method, req.URL.RequestURI(), status, strings.Join(problems, "\n\t"))
}

// drain reads and closes a request body; a RoundTripper must close it even on error.
func drain(body io.ReadCloser) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	defer body.Close()
	return io.ReadAll(body)
}

// errReader hands a failed read of the response body on to the test once the bytes that did
// arrive have been read.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}
