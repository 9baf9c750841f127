package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/approval"
)

// watermelonOA creates the integration "oa" and serves, on loopback, the OA of the approvals
// scenarios: POST / with an approval event (JSON) signs it as the OA would, posts it to the
// server (through the contract-checked client), waits until the server's event worker has
// processed it, and answers {"status": <the server's status>, "result": <accepted's outcome>}.
func watermelonOA(t *testing.T, ts *testServer, admin string) string {
	var created struct{ Secret string }
	ts.must(ts.call("POST", "/v1/admin/integrations", admin, map[string]any{"source": "oa", "name": "OA",
		"callback_url": "http://127.0.0.1:9/callback"}), 201).json(t, &created)
	client := ts.spec.Client(t, nil)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := sendOAEvent(r.Context(), client, ts, created.Secret, fmt.Sprint("wm-", n.Add(1)), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// sendOAEvent signs body as message id, posts it and, when it is accepted, waits (at most 30 s)
// for its processing.
func sendOAEvent(ctx context.Context, client *http.Client, ts *testServer, secret, id string, body []byte) (map[string]any, error) {
	now := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.base+"/v1/integrations/oa/events", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", approval.Sign(secret, id, now, body))
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	out := map[string]any{"status": resp.StatusCode, "answer": json.RawMessage(answer)}
	if resp.StatusCode != http.StatusAccepted {
		return out, nil
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := ts.main.approvals.EventStatus(ctx, "oa", id)
		if err != nil {
			return nil, err
		}
		if st.Result != approval.ResultAccepted {
			out["result"] = st.Result
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("event %s not processed within 30 s", id)
		}
	}
}
