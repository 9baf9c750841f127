package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/feedback"
	"github.com/mportal/mportal/push/fcmfake"
	datasync "github.com/mportal/mportal/sync"
)

// feedbackRecord is a feedback sync record as the app creates it.
func feedbackRecord(id, text string, shared bool) map[string]any {
	return map[string]any{
		"id": id, "category": "bug", "text": text, "latitude": 31.23, "longitude": 121.47, "accuracy_m": 8,
		"app_id": "portal", "build": 230, "version": "2.3.0", "channel": "beta", "platform": "android",
		"device_model": "Pixel 8", "os_version": "15", "created_at": time.Now().UnixMilli(),
		"share_with_testers": shared, "status": "new",
	}
}

func feedbackChanges(table string, created ...map[string]any) map[string]any {
	recs := make([]any, len(created))
	for i, r := range created {
		recs[i] = r
	}
	return map[string]any{table: map[string]any{"created": recs, "updated": []any{}, "deleted": []any{}}}
}

// noisyPNG is a PNG of a few kilobytes, big enough to upload in several chunks.
func noisyPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	img.Set(0, 0, color.White)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawRequest writes an HTTP request on a fresh connection and closes it without reading the
// answer: a phone that lost the network mid-request. body is cut to send bytes when send >= 0.
func (ts *testServer) rawRequest(method, path, token string, headers map[string]string, body []byte, send int) {
	ts.t.Helper()
	conn, err := net.Dial("tcp", ts.main.Addr())
	if err != nil {
		ts.t.Fatal(err)
	}
	defer conn.Close()
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n", method, path, ts.main.Addr(), token, len(body))
	for k, v := range headers {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	req.WriteString("\r\n")
	if send < 0 {
		send = len(body)
	}
	if _, err := conn.Write(append([]byte(req.String()), body[:send]...)); err != nil {
		ts.t.Fatal(err)
	}
	// Give the server a moment to take the bytes in before the connection drops.
	time.Sleep(100 * time.Millisecond)
}

func tusHeaders(offset int) []func(*http.Request) {
	return []func(*http.Request){
		withHeader("Tus-Resumable", "1.0.0"), withHeader("Content-Type", "application/offset+octet-stream"),
		withHeader("Upload-Offset", strconv.Itoa(offset)),
	}
}

func tusMeta(kv ...string) string {
	var parts []string
	for i := 0; i < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// feedbackView is the part of a Feedback the tests read.
type feedbackView struct {
	ID          string
	Status      string
	Text        string
	MeTooCount  int    `json:"me_too_count"`
	DuplicateOf string `json:"duplicate_of"`
	Comments    []struct {
		Text    string
		FromOps bool `json:"from_ops"`
	}
	Attachments []struct{ ID, Status string }
}

type feedbackList struct {
	Items      []feedbackView
	NextCursor *string `json:"next_cursor"`
}

// feedbackFixture is a server (pushing to a fake FCM) with ops, alice, who tests the beta channel
// of "portal" and has a phone, and bob, who does not. Each subtest of TestFeedback builds its own.
type feedbackFixture struct {
	ts         *testServer
	fake       *fcmfake.Server
	admin, ops string
	alice, bob member
}

func newFeedbackFixture(t *testing.T) *feedbackFixture {
	t.Helper()
	fake, env, configure := fakeFCM(t)
	ts := startServer(t, testEnv(t, env), configure)
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	f := &feedbackFixture{ts: ts, fake: fake, admin: admin, ops: ts.newOps(admin, "E9000"),
		alice: ts.newMember(admin, "E9001", "Field Ops", "en", "android"), bob: ts.newMember(admin, "E9002", "Sales", "en")}
	// alice tests beta: sharing feedback with its testers takes membership of the channel.
	f.joinBeta(t, f.alice)
	return f
}

// joinBeta makes m a tester of the beta channel of "portal".
func (f *feedbackFixture) joinBeta(t *testing.T, m member) {
	t.Helper()
	if err := f.ts.main.sync.Grant(context.Background(), m.id, datasync.ChannelKey("portal", "beta")); err != nil {
		t.Fatal(err)
	}
}

// aliceReports has alice's phone push her two reports: fbA1, shared with the beta testers, and
// fbA2, private.
func (f *feedbackFixture) aliceReports(t *testing.T) {
	t.Helper()
	res := f.ts.with(t).syncPush(f.alice.token, 0, aliceFeedback())
	if res.Accepted != 2 || len(res.Rejected) != 0 {
		t.Fatalf("alice's feedback: %+v", res)
	}
}

func aliceFeedback() map[string]any {
	return feedbackChanges("feedback", feedbackRecord("fbA1", "Scanner crashes when offline", true),
		feedbackRecord("fbA2", "Map tiles load slowly", false))
}

// attachmentRecord is the sync record of alice's photo attA1 of fbA1, whose upload is pending.
func attachmentRecord(size int) map[string]any {
	return feedbackChanges("feedback_attachments", map[string]any{
		"id": "attA1", "feedback_id": "fbA1", "filename": "crash.png", "content_type": "image/png",
		"size": size, "created_at": time.Now().UnixMilli(),
	})
}

// TestFeedback follows field feedback from the phone to ops and back. Each subtest starts its
// own server, so any of them runs alone (go test -run 'TestFeedback/ops_filter').
func TestFeedback(t *testing.T) {
	t.Run("a push whose response was lost is replayed without duplicates", func(t *testing.T) {
		f := newFeedbackFixture(t)
		ts, alice := f.ts.with(t), f.alice
		changes := aliceFeedback()
		body, _ := json.Marshal(map[string]any{"changes": changes})
		ts.rawRequest("POST", "/v1/sync/push?last_pulled_at=0", alice.token, map[string]string{"Content-Type": "application/json"}, body, -1)
		eventually(t, 10*time.Second, "the lost push applied", func() bool {
			return ts.call("GET", "/v1/feedback/fbA2", alice.token, nil).status == 200
		})
		res := ts.syncPush(alice.token, 0, changes)
		if res.Accepted != 2 || len(res.Rejected) != 0 {
			t.Fatalf("replay: %+v", res)
		}
		var wg sync.WaitGroup // a double tap on "send" from two app screens
		for range 2 {
			wg.Go(func() {
				if res := ts.syncPush(alice.token, 0, changes); res.Accepted != 2 {
					t.Errorf("duplicate submission: %+v", res)
				}
			})
		}
		wg.Wait()
		var list feedbackList
		ts.must(ts.call("GET", "/v1/ops/feedback", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 2 {
			t.Fatalf("ops see %d feedback, want 2", len(list.Items))
		}
	})

	t.Run("nobody reaches another's feedback through REST or forged sync ids", func(t *testing.T) {
		f := newFeedbackFixture(t)
		f.aliceReports(t)
		ts, alice, bob := f.ts.with(t), f.alice, f.bob
		res := ts.syncPush(bob.token, 0, map[string]any{
			"feedback":          map[string]any{"created": []any{feedbackRecord("fbA2", "hijacked", false)}, "updated": []any{feedbackRecord("fbA1", "hijacked", false)}, "deleted": []any{"fbA2"}},
			"feedback_comments": map[string]any{"created": []any{map[string]any{"id": "cBob", "feedback_id": "fbA2", "text": "peek", "created_at": time.Now().UnixMilli()}}, "updated": []any{}, "deleted": []any{}},
		})
		if res.Accepted != 0 || len(res.Rejected) != 4 {
			t.Fatalf("forged push: %+v", res)
		}
		for _, r := range res.Rejected {
			if r.Code != "not_found" {
				t.Fatalf("rejection %+v", r)
			}
		}
		var fb feedbackView
		ts.must(ts.call("GET", "/v1/feedback/fbA2", alice.token, nil), 200).json(t, &fb)
		if fb.Text != "Map tiles load slowly" {
			t.Fatalf("alice's text is now %q", fb.Text)
		}
		ts.must(ts.call("GET", "/v1/feedback/fbA2", bob.token, nil), 404)
		ts.must(ts.call("GET", "/v1/feedback/fbA1", bob.token, nil), 404)
		ts.must(ts.call("PUT", "/v1/feedback/fbA1/me-too", bob.token, nil), 404)
		ts.must(ts.call("GET", "/v1/ops/feedback", bob.token, nil), 403)
		ts.must(ts.call("PATCH", "/v1/ops/feedback/fbA1", bob.token, map[string]any{"status": "resolved"}), 403)
		if pulled := ts.syncPull(bob.token, 0); len(pulled.Changes["feedback"].Updated) != 0 {
			t.Fatalf("bob pulled %v", pulled.Changes["feedback"].Updated)
		}
	})

	t.Run("a photo uploads with tus, survives an interruption and completes its attachment", func(t *testing.T) {
		f := newFeedbackFixture(t)
		f.aliceReports(t)
		ts, alice, bob := f.ts.with(t), f.alice, f.bob
		attachmentObject := noisyPNG(t)
		size := len(attachmentObject)
		res := ts.syncPush(alice.token, 0, attachmentRecord(size))
		if res.Accepted != 1 {
			t.Fatalf("attachment record: %+v", res)
		}
		meta := tusMeta("purpose", feedback.UploadPurpose, "filetype", "image/png", "filename", "crash.png", "attachment_id", "attA1")
		ts.must(ts.call("POST", "/v1/uploads", bob.token, nil, withHeader("Tus-Resumable", "1.0.0"),
			withHeader("Upload-Length", strconv.Itoa(size)), withHeader("Upload-Metadata", meta)), 404)
		created := ts.must(ts.call("POST", "/v1/uploads", alice.token, nil, withHeader("Tus-Resumable", "1.0.0"),
			withHeader("Upload-Length", strconv.Itoa(size)), withHeader("Upload-Metadata", meta)), 201)
		loc, err := url.Parse(created.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		first := size / 3
		ts.must(ts.call("PATCH", loc.Path, alice.token, string(attachmentObject[:first]), tusHeaders(0)...), 204)
		// The network drops in the middle of the second chunk.
		ts.rawRequest("PATCH", loc.Path, alice.token, map[string]string{"Tus-Resumable": "1.0.0",
			"Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.Itoa(first)},
			attachmentObject[first:], (size-first)/2)
		head := ts.must(ts.call("HEAD", loc.Path, alice.token, nil, withHeader("Tus-Resumable", "1.0.0")), 200)
		offset, err := strconv.Atoi(head.header.Get("Upload-Offset"))
		if err != nil || offset < first || offset >= size {
			t.Fatalf("offset after the interruption %q", head.header.Get("Upload-Offset"))
		}
		ts.must(ts.call("PATCH", loc.Path, alice.token, string(attachmentObject[offset:]), tusHeaders(offset)...), 204)

		pulled := ts.syncPull(alice.token, 0)
		var status any
		for _, r := range pulled.Changes["feedback_attachments"].Updated {
			if r["id"] == "attA1" {
				status = r["status"]
			}
		}
		if status != "complete" {
			t.Fatalf("attachment status %v after the upload", status)
		}
		var link struct{ URL string }
		ts.must(ts.call("GET", "/v1/feedback/attachments/attA1/content", f.ops, nil, withHeader("Accept", "application/json")), 200).json(t, &link)
		r := ts.noRedirects().must(ts.noRedirects().call("GET", "/v1/feedback/attachments/attA1/content", alice.token, nil), 302)
		resp, err := http.Get(r.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(got, attachmentObject) {
			t.Fatalf("downloaded %d bytes, want the %d uploaded", len(got), size)
		}
		ts.must(ts.call("GET", "/v1/feedback/attachments/attA1/content", bob.token, nil), 404)
	})

	t.Run("testers of the channel see shared feedback and add one me too each", func(t *testing.T) {
		f := newFeedbackFixture(t)
		f.aliceReports(t)
		ts, alice := f.ts.with(t), f.alice
		tess := ts.newMember(f.admin, "E9003", "IT", "en")
		f.joinBeta(t, tess)
		var mine feedbackList
		ts.must(ts.call("GET", "/v1/feedback", tess.token, nil), 200).json(t, &mine)
		if len(mine.Items) != 1 || mine.Items[0].ID != "fbA1" || mine.NextCursor != nil {
			t.Fatalf("tess lists %+v", mine)
		}
		ts.must(ts.call("GET", "/v1/feedback/fbA2", tess.token, nil), 404)
		var fb feedbackView
		for range 2 {
			ts.must(ts.call("PUT", "/v1/feedback/fbA1/me-too", tess.token, nil), 200).json(t, &fb)
		}
		if fb.MeTooCount != 1 {
			t.Fatalf("me_too_count %d", fb.MeTooCount)
		}
		ts.must(ts.call("PUT", "/v1/feedback/fbA1/me-too", alice.token, nil), 403)
		ts.must(ts.call("DELETE", "/v1/feedback/fbA1/me-too", tess.token, nil), 200).json(t, &fb)
		if fb.MeTooCount != 0 {
			t.Fatalf("me_too_count after withdrawing %d", fb.MeTooCount)
		}
		ts.must(ts.call("PUT", "/v1/feedback/fbA1/me-too", tess.token, nil), 200)
	})

	t.Run("ops filter, triage, merge, reply and export", func(t *testing.T) {
		f := newFeedbackFixture(t)
		f.aliceReports(t)
		ts, alice := f.ts.with(t), f.alice
		// fbA1 has a photo (still uploading) and a me too from a tester, which its detail counts.
		if res := ts.syncPush(alice.token, 0, attachmentRecord(1000)); res.Accepted != 1 {
			t.Fatalf("attachment record: %+v", res)
		}
		tess := ts.newMember(f.admin, "E9003", "IT", "en")
		f.joinBeta(t, tess)
		ts.must(ts.call("PUT", "/v1/feedback/fbA1/me-too", tess.token, nil), 200)
		var list feedbackList
		ts.must(ts.call("GET", "/v1/ops/feedback?status=new&category=bug&department=Field+Ops&q=SCANNER&build=230&limit=10", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != "fbA1" {
			t.Fatalf("filtered list %+v", list)
		}
		ts.must(ts.call("GET", "/v1/ops/feedback?build=abc", f.ops, nil, offContract), 400)
		// Bytes that are not text: the in-memory match compiled them into an expression and
		// panicked, a 500 and a stack trace in the log for every such request.
		if r := ts.must(ts.call("GET", "/v1/ops/feedback?q=%FF", f.ops, nil), 400); r.problemCode() != "invalid" || !strings.Contains(string(r.body), `"q"`) {
			t.Fatalf("q=%%FF: %s", r.body)
		}
		ts.must(ts.call("PATCH", "/v1/ops/feedback/fbA1", f.ops, map[string]any{"status": "in_progress"}), 409)
		var fb feedbackView
		ts.must(ts.call("PATCH", "/v1/ops/feedback/fbA1", f.ops, map[string]any{"status": "acknowledged", "resolution": "reproduced"}), 200).json(t, &fb)
		if fb.Status != "acknowledged" {
			t.Fatalf("status %q", fb.Status)
		}
		ts.must(ts.call("POST", "/v1/ops/feedback/fbA2/merge", f.ops, map[string]any{"into": "fbA2"}), 400)
		ts.must(ts.call("POST", "/v1/ops/feedback/fbA2/merge", f.ops, map[string]any{"into": "fbA1"}), 200).json(t, &fb)
		if fb.Status != "duplicate" || fb.DuplicateOf != "fbA1" {
			t.Fatalf("merged %+v", fb)
		}
		ts.must(ts.call("POST", "/v1/ops/feedback/fbA1/replies", f.ops, map[string]any{"text": "Fixed in build 231, please update"}), 201)
		ts.must(ts.call("GET", "/v1/ops/feedback/fbA1", f.ops, nil), 200).json(t, &fb)
		if len(fb.Comments) != 1 || !fb.Comments[0].FromOps || len(fb.Attachments) != 1 || fb.MeTooCount != 1 {
			t.Fatalf("detail %+v", fb)
		}
		r := ts.must(ts.call("GET", "/v1/ops/feedback/export.csv?category=bug", f.ops, nil), 200)
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil || len(rows) != 3 || rows[0][0] != "id" {
			t.Fatalf("csv %v %v", rows, err)
		}
		ts.must(ts.call("GET", "/v1/ops/feedback/export.csv", alice.token, nil), 403)
	})

	t.Run("the author's next pull shows the status and the reply, and the phone got the push", func(t *testing.T) {
		f := newFeedbackFixture(t)
		f.aliceReports(t)
		ts, alice := f.ts.with(t), f.alice
		ts.must(ts.call("PATCH", "/v1/ops/feedback/fbA1", f.ops, map[string]any{"status": "acknowledged", "resolution": "reproduced"}), 200)
		ts.must(ts.call("POST", "/v1/ops/feedback/fbA1/replies", f.ops, map[string]any{"text": "Fixed in build 231, please update"}), 201)
		pulled := ts.syncPull(alice.token, 0)
		var status, replies any
		for _, r := range pulled.Changes["feedback"].Updated {
			if r["id"] == "fbA1" {
				status, replies = r["status"], r["comment_count"]
			}
		}
		if status != "acknowledged" || replies != 1.0 {
			t.Fatalf("pulled status %v, comments %v", status, replies)
		}
		var fromOps bool
		for _, c := range pulled.Changes["feedback_comments"].Updated {
			fromOps = fromOps || c["from_ops"] == true
		}
		if !fromOps {
			t.Fatalf("no reply pulled: %v", pulled.Changes["feedback_comments"])
		}
		eventually(t, 30*time.Second, "the feedback_reply push", func() bool {
			for _, m := range f.fake.Messages() {
				if m.Token == alice.pushTokens[0] && m.Data["category"] == "feedback_reply" && m.Data["feedback_id"] == "fbA1" &&
					m.Data["comment_id"] != "" {
					return true
				}
			}
			return false
		})
	})
}
