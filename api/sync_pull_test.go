package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
	datasync "github.com/mportal/mportal/sync"
)

// openWaits is a sync engine whose pulls wait to open (for another pull's read of the change
// log, behind an outage) until their context ends.
type openWaits struct{ Sync }

func (openWaits) OpenPull(ctx context.Context, _ *auth.Principal, _ int64) (*datasync.PullStream, error) {
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second): // a context without a deadline: the test fails on the time
	}
	e := apperr.New(apperr.Unavailable, "the sync change log is being read; try again in a moment")
	e.RetryAfter = time.Second
	return nil, e
}

// A pull that cannot open within half of the write timeout answers 503 then, leaving the stream
// its time; before, one that waited out an outage opened at its deadline and was cut off at
// once (the fault rig saw a pull hang to the client's 30 s).
func TestAPullThatCannotOpenInHalfItsTimeAnswers503(t *testing.T) {
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.WriteTimeout = 2 * time.Second
	s := New(Deps{Config: cfg, Logger: slog.New(slog.DiscardHandler), Sessions: fakeSessions{}, Sync: openWaits{}})
	req := httptest.NewRequest(http.MethodGet, "/v1/sync/pull?last_pulled_at=0", nil)
	req.Header.Set("Authorization", "Bearer good")
	start := time.Now()
	resp, doc := do(t, s, req)
	took := time.Since(start)
	if resp.StatusCode != http.StatusServiceUnavailable || doc["code"] != "unavailable" {
		t.Fatalf("status %d, %v", resp.StatusCode, doc)
	}
	if took > 1500*time.Millisecond {
		t.Fatalf("answered after %s: the open had more than half of the 2 s write timeout", took)
	}
}
