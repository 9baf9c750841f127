// Package fcmfake is a fake of the Firebase Cloud Messaging HTTP v1 send
// endpoint for tests and benchmarks. It records every accepted message and
// can answer chosen tokens with the errors real FCM sends, in the shape the
// Firebase Admin SDK parses, so code under test runs through the real SDK.
package fcmfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ProjectID is the Firebase project SenderOptions configures.
const ProjectID = "mportal-test"

// Server is a running fake FCM server on loopback. It is safe for
// concurrent use.
type Server struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:41234".
	URL string

	srv       *httptest.Server
	store     *store
	seq       atomic.Int64 // last Seq handed out; never reset, so names stay unique
	total     atomic.Int64 // accepted since the last Reset
	behaviorW sync.Mutex   // serializes SetBehavior's copy-on-write
	behaviors atomic.Pointer[behaviors]
	countOnly atomic.Bool
}

// New starts a fake FCM server; Close it when done.
func New() *Server {
	s := &Server{store: newStore()}
	s.behaviors.Store(&behaviors{})
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down, waiting for requests in flight.
func (s *Server) Close() { s.srv.Close() }

// SetBehavior makes the fake answer messages to tokenOrPrefix as b. A key
// ending in "*" matches every token with the text before it as prefix; an
// exact token wins over prefixes and a longer prefix over a shorter one.
// Setting the zero Behavior restores plain acceptance.
func (s *Server) SetBehavior(tokenOrPrefix string, b Behavior) {
	s.behaviorW.Lock()
	defer s.behaviorW.Unlock()
	s.behaviors.Store(s.behaviors.Load().with(tokenOrPrefix, b))
}

// SetCountOnly stops (true) or resumes (false) keeping accepted messages for
// Messages; counts are always kept. Benchmarks that measure memory turn
// records off so the fake's share does not count against the code under test.
func (s *Server) SetCountOnly(on bool) { s.countOnly.Store(on) }

// Count returns how many messages to token were accepted.
func (s *Server) Count(token string) int {
	sh := s.store.shard(token)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.accepted[token]
}

// Attempts returns how many send requests for token arrived, failed ones
// included.
func (s *Server) Attempts(token string) int {
	sh := s.store.shard(token)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.attempts[token]
}

// Total returns how many messages were accepted.
func (s *Server) Total() int { return int(s.total.Load()) }

// Messages returns the accepted messages in the order they were accepted.
func (s *Server) Messages() []Received { return s.store.all() }

// Reset forgets recorded messages and counts; behaviors stay.
func (s *Server) Reset() {
	s.store.reset()
	s.total.Store(0)
}

// project extracts {project} from "[/v1]/projects/{project}/messages:send";
// the "/v1" depends on whether the client's endpoint option included it.
func project(path string) (string, bool) {
	path = strings.TrimPrefix(path, "/v1")
	rest, ok := strings.CutPrefix(path, "/projects/")
	if !ok {
		return "", false
	}
	p, ok := strings.CutSuffix(rest, "/messages:send")
	return p, ok && p != "" && !strings.Contains(p, "/")
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == tokenPath && r.Method == http.MethodPost {
		serveToken(w)
		return
	}
	proj, ok := project(r.URL.Path)
	if !ok || r.Method != http.MethodPost {
		writeFailure(w, reply(404, "NOT_FOUND", "", "fcmfake serves only POST /v1/projects/{p}/messages:send"))
		return
	}
	keep := !s.countOnly.Load()
	var req wireRequest
	var err error
	if keep {
		err = json.NewDecoder(r.Body).Decode(&req)
	} else {
		// Counting needs the token only; decoding the rest would make the fake, which stands in
		// for a remote service, take a larger share of a benchmark's CPU.
		var only tokenOnly
		err = json.NewDecoder(r.Body).Decode(&only)
		req.Message.Token = only.Message.Token
	}
	if err != nil {
		writeFailure(w, reply(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received."))
		return
	}
	token := req.Message.Token
	if token == "" {
		writeFailure(w, reply(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Recipient of the message is not set."))
		return
	}
	b := s.behaviors.Load().lookup(token)
	sh := s.store.shard(token)
	sh.mu.Lock()
	sh.attempts[token]++
	attempt := sh.attempts[token]
	sh.mu.Unlock()

	if b.Delay > 0 {
		t := time.NewTimer(b.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f, failing := failureReply(b.Fail); failing && (b.Times == 0 || attempt <= b.Times) {
		if b.RetryAfter > 0 && (b.Fail == QuotaExceeded || b.Fail == Unavailable) {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(b.RetryAfter/time.Second), 10))
		}
		writeFailure(w, f)
		return
	}

	var rec Received
	if keep {
		rec = req.received()
		rec.Authorization = r.Header.Get("Authorization")
	}
	sh.mu.Lock()
	seq := s.seq.Add(1)
	name := "projects/" + proj + "/messages/" + strconv.FormatInt(seq, 10)
	if keep {
		rec.Seq, rec.Name = seq, name
		sh.msgs = append(sh.msgs, rec)
	}
	sh.accepted[token]++
	sh.mu.Unlock()
	s.total.Add(1)

	body := make([]byte, 0, len(name)+12)
	body = append(append(append(body, `{"name":"`...), name...), `"}`...)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Write(body)
}

// tokenOnly is the part of a request a counting fake reads.
type tokenOnly struct {
	Message struct {
		Token string `json:"token"`
	} `json:"message"`
}

func writeFailure(w http.ResponseWriter, f failure) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(f.status)
	w.Write(f.body)
}
