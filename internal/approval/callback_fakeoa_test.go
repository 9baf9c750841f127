package approval

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOA is the OA system's callback endpoint, on loopback. It verifies every request's
// Standard Webhooks signature with the integration's secrets, answers as the test scripts it
// (acknowledge, fail, Retry-After, 410, hang), and "applies" each webhook-id once, as an OA that
// dedupes by webhook-id would.
type fakeOA struct {
	t       testing.TB
	srv     *httptest.Server
	secrets [][]byte

	mu       sync.Mutex
	script   []oaAnswer // consumed in order; then answer is used
	answer   oaAnswer
	received map[string]int // webhook-id -> requests with a good signature
	applied  map[string]json.RawMessage
	badSigs  int
	arrived  chan string // webhook-id of each request as it arrives (buffered)
	release  chan struct{}
}

// oaAnswer is what the fake answers one request with.
type oaAnswer struct {
	status     int
	retryAfter string
	hang       bool // wait until released or the client goes away, then answer status
}

var (
	oaAck  = oaAnswer{status: http.StatusNoContent}
	oaFail = oaAnswer{status: http.StatusInternalServerError}
	oaGone = oaAnswer{status: http.StatusGone}
)

func newFakeOA(t testing.TB, secrets ...[]byte) *fakeOA {
	oa := &fakeOA{t: t, secrets: secrets, answer: oaAck, received: map[string]int{},
		applied: map[string]json.RawMessage{}, arrived: make(chan string, 1000), release: make(chan struct{})}
	oa.srv = httptest.NewServer(http.HandlerFunc(oa.serve))
	t.Cleanup(func() {
		oa.releaseAll()
		oa.srv.Close()
	})
	return oa
}

func (oa *fakeOA) url() string { return oa.srv.URL + "/oa/callback" }

// then scripts the next answers; after them the fake answers with always.
func (oa *fakeOA) then(answers ...oaAnswer) {
	oa.mu.Lock()
	defer oa.mu.Unlock()
	oa.script = append(oa.script, answers...)
}

func (oa *fakeOA) always(a oaAnswer) {
	oa.mu.Lock()
	defer oa.mu.Unlock()
	oa.answer = a
}

func (oa *fakeOA) releaseAll() {
	oa.mu.Lock()
	defer oa.mu.Unlock()
	select {
	case <-oa.release:
	default:
		close(oa.release)
	}
}

func (oa *fakeOA) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get("webhook-id")
	if !oa.verify(id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body) {
		oa.mu.Lock()
		oa.badSigs++
		oa.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	oa.mu.Lock()
	oa.received[id]++
	a := oa.answer
	if len(oa.script) > 0 {
		a, oa.script = oa.script[0], oa.script[1:]
	}
	oa.mu.Unlock()
	select {
	case oa.arrived <- id:
	default: // nobody waits for arrivals (a benchmark): never block the answer
	}
	if a.hang {
		select {
		case <-oa.release:
		case <-r.Context().Done():
			return // the client went away: nothing applied
		}
	}
	if a.status/100 == 2 {
		oa.mu.Lock()
		if _, seen := oa.applied[id]; !seen {
			oa.applied[id] = body
		}
		oa.mu.Unlock()
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
}

// verify checks a Standard Webhooks signature header against the fake's secrets.
func (oa *fakeOA) verify(id, ts, header string, body []byte) bool {
	if id == "" || ts == "" {
		return false
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return false
	}
	for _, sig := range strings.Fields(header) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		for _, key := range oa.secrets {
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(id + "." + ts + "."))
			mac.Write(body)
			if hmac.Equal(got, mac.Sum(nil)) {
				return true
			}
		}
	}
	return false
}

// waitArrival waits for the next request to reach the fake.
func (oa *fakeOA) waitArrival() string {
	oa.t.Helper()
	select {
	case id := <-oa.arrived:
		return id
	case <-time.After(30 * time.Second):
		oa.t.Fatal("the OA received nothing")
		return ""
	}
}

func (oa *fakeOA) counts() (received map[string]int, applied int, badSigs int) {
	oa.mu.Lock()
	defer oa.mu.Unlock()
	received = map[string]int{}
	for k, v := range oa.received {
		received[k] = v
	}
	return received, len(oa.applied), oa.badSigs
}

// appliedBody is the body the OA applied for a webhook-id.
func (oa *fakeOA) appliedBody(id string) []byte {
	oa.mu.Lock()
	defer oa.mu.Unlock()
	return oa.applied[id]
}
