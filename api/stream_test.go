package api

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// A streamed answer (a sync pull, a CSV export) reaches the client as it is written: the access
// log once read it whole into memory for its byte count (fasthttp's Response.Body copies a
// stream), before the first byte went out.
func TestAStreamedAnswerIsNotReadWholeForTheLog(t *testing.T) {
	s, logs := newTestServer(t, nil)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	s.App().Get("/stream", func(c *fiber.Ctx) error {
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			_, _ = w.WriteString("first\n")
			_ = w.Flush()
			<-release
			_, _ = w.WriteString("second\n")
		})
		return nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.App().Listener(ln) }()
	defer func() { _ = s.App().ShutdownWithTimeout(time.Second) }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ln.Addr().String()+"/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("no answer while the stream is still being written: %v", err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first line %q (%v)", line, err)
	}
	unblock()
	if line, err := r.ReadString('\n'); err != nil || line != "second\n" {
		t.Fatalf("second line %q (%v)", line, err)
	}
	if !strings.Contains(logs.String(), `"bytes":-1`) {
		t.Fatalf("the log line of a chunked answer: %s", logs.String())
	}
}
