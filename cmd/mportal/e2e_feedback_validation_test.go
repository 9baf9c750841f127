package main

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/feedback"
)

// rejectsList is GET /v1/sync/rejects as these tests read it.
type rejectsList struct {
	Items []struct {
		Table, Code, Field string
		RecordID           string `json:"record_id"`
	}
}

// pushRejection is one entry of a push's rejected list, with its field.
type pushRejection struct {
	Table, ID, Code, Field string
}

// pushRejected pushes changes as token and returns the accepted count and the rejections.
func (ts *testServer) pushRejected(token string, changes map[string]any) (int, []pushRejection) {
	ts.t.Helper()
	var out struct {
		Accepted int             `json:"accepted"`
		Rejected []pushRejection `json:"rejected"`
	}
	ts.must(ts.call("POST", "/v1/sync/push?last_pulled_at=0", token, map[string]any{"changes": changes}), 200).json(ts.t, &out)
	return out.Accepted, out.Rejected
}

// wantStoredReject checks that GET /v1/sync/rejects lists the record with code and field.
func (ts *testServer) wantStoredReject(token, table, recordID, code, field string) {
	ts.t.Helper()
	var list rejectsList
	ts.must(ts.call("GET", "/v1/sync/rejects", token, nil), 200).json(ts.t, &list)
	for _, r := range list.Items {
		if r.Table == table && r.RecordID == recordID && r.Code == code && r.Field == field {
			return
		}
	}
	ts.t.Fatalf("%s/%s is not in the rejects with %s, field %s: %+v", table, recordID, code, field, list.Items)
}

// attachmentPulled returns the status and failure of an attachment as its author pulls it.
func (ts *testServer) attachmentPulled(token, id string) (status, failure any) {
	ts.t.Helper()
	for _, r := range ts.syncPull(token, 0).Changes["feedback_attachments"].Updated {
		if r["id"] == id {
			return r["status"], r["failure"]
		}
	}
	ts.t.Fatalf("attachment %s not pulled", id)
	return nil, nil
}

// TestFeedbackValidation checks issue #9 A4 and #10 items 1, 4 and 9 end to end: every bad
// record is in the push's rejected list and in GET /v1/sync/rejects with its field, nothing of
// it is stored or shown, and the triage list keeps answering.
func TestFeedbackValidation(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	ops := ts.newOps(admin, "E9200")
	alice := ts.newMember(admin, "E9201", "Field Ops", "en")
	bob := ts.newMember(admin, "E9202", "Sales", "en")
	tess := ts.newMember(admin, "E9203", "IT", "en")
	ts.createApp(ops, "portal")
	ts.must(ts.call("PUT", "/v1/ops/apps/portal/channels/beta", ops, map[string]any{"self_opt_in": true}), 200)
	for _, m := range []member{alice, tess} { // bob stays out of beta
		ts.must(ts.call("POST", "/v1/apps/portal/channels/beta/join", m.token, nil), 200)
	}
	triageAnswers := func(t *testing.T, want int) {
		t.Helper()
		var list feedbackList
		ts.must(ts.call("GET", "/v1/ops/feedback", ops, nil), 200).json(t, &list)
		if len(list.Items) != want {
			t.Fatalf("ops see %d feedback, want %d", len(list.Items), want)
		}
	}

	t.Run("a time in the year 10000 is rejected naming created_at, and the triage list answers", func(t *testing.T) {
		ts := ts.with(t)
		const year10000 = 253402300800000
		bad := feedbackRecord("fbY10k", "Clock from the future", false)
		bad["created_at"] = year10000
		accepted, rejected := ts.pushRejected(alice.token, feedbackChanges("feedback", bad, feedbackRecord("fbOK", "Fine", false)))
		if accepted != 1 || len(rejected) != 1 || rejected[0].ID != "fbY10k" || rejected[0].Field != "created_at" || rejected[0].Code != "invalid" {
			t.Fatalf("push: %d accepted, rejected %+v", accepted, rejected)
		}
		accepted, rejected = ts.pushRejected(alice.token, feedbackChanges("feedback_comments",
			map[string]any{"id": "cY10k", "feedback_id": "fbOK", "text": "later", "created_at": year10000}))
		if accepted != 0 || len(rejected) != 1 || rejected[0].Field != "created_at" {
			t.Fatalf("comment push: %d accepted, rejected %+v", accepted, rejected)
		}
		ts.wantStoredReject(alice.token, "feedback", "fbY10k", "invalid", "created_at")
		ts.wantStoredReject(alice.token, "feedback_comments", "cY10k", "invalid", "created_at")
		triageAnswers(t, 1)
		ts.must(ts.call("GET", "/v1/ops/feedback/fbOK", ops, nil), 200)
		ts.must(ts.call("GET", "/v1/feedback/fbOK", alice.token, nil), 200)
		ts.must(ts.call("GET", "/v1/feedback/fbY10k", alice.token, nil), 404)
	})

	t.Run("a non-member cannot share into beta, and the testers never see it", func(t *testing.T) {
		ts := ts.with(t)
		accepted, rejected := ts.pushRejected(bob.token, feedbackChanges("feedback", feedbackRecord("fbBob", "Testers, look", true)))
		if accepted != 0 || len(rejected) != 1 || rejected[0].Code != "forbidden" || rejected[0].Field != "share_with_testers" {
			t.Fatalf("push: %d accepted, rejected %+v", accepted, rejected)
		}
		ts.wantStoredReject(bob.token, "feedback", "fbBob", "forbidden", "share_with_testers")
		for _, r := range ts.syncPull(tess.token, 0).Changes["feedback"].Updated {
			if r["id"] == "fbBob" {
				t.Fatal("a beta tester pulled feedback shared by a non-member")
			}
		}
		ts.must(ts.call("GET", "/v1/feedback/fbBob", tess.token, nil), 404)
		triageAnswers(t, 1)
	})

	t.Run("sharing on stable is rejected with the reason, not stored unshared", func(t *testing.T) {
		ts := ts.with(t)
		rec := feedbackRecord("fbStable", "Everyone should see this", true)
		rec["channel"] = "stable"
		accepted, rejected := ts.pushRejected(alice.token, feedbackChanges("feedback", rec))
		if accepted != 0 || len(rejected) != 1 || rejected[0].Code != "invalid" || rejected[0].Field != "share_with_testers" {
			t.Fatalf("push: %d accepted, rejected %+v", accepted, rejected)
		}
		ts.wantStoredReject(alice.token, "feedback", "fbStable", "invalid", "share_with_testers")
		triageAnswers(t, 1)
	})

	t.Run("a member shares into beta and the testers see it", func(t *testing.T) {
		ts := ts.with(t)
		accepted, rejected := ts.pushRejected(alice.token, feedbackChanges("feedback", feedbackRecord("fbShared", "Beta login flickers", true)))
		if accepted != 1 || len(rejected) != 0 {
			t.Fatalf("push: %d accepted, rejected %+v", accepted, rejected)
		}
		ts.must(ts.call("GET", "/v1/feedback/fbShared", tess.token, nil), 200)
	})

	upload := func(t *testing.T, attachmentID string, declared int, body []byte, wantStatus int) {
		t.Helper()
		accepted, rejected := ts.pushRejected(alice.token, feedbackChanges("feedback_attachments", map[string]any{
			"id": attachmentID, "feedback_id": "fbOK", "filename": "photo.png", "content_type": "image/png",
			"size": declared, "created_at": time.Now().UnixMilli(),
		}))
		if accepted != 1 {
			t.Fatalf("attachment record: %d accepted, rejected %+v", accepted, rejected)
		}
		meta := tusMeta("purpose", feedback.UploadPurpose, "filetype", "image/png", "filename", "photo.png", "attachment_id", attachmentID)
		created := ts.must(ts.call("POST", "/v1/uploads", alice.token, nil, withHeader("Tus-Resumable", "1.0.0"),
			withHeader("Upload-Length", strconv.Itoa(len(body))), withHeader("Upload-Metadata", meta)), 201)
		loc, err := url.Parse(created.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		ts.must(ts.call("PATCH", loc.Path, alice.token, string(body), tusHeaders(0)...), wantStatus)
	}
	t.Run("an upload that fails the type check fails its attachment with the reason", func(t *testing.T) {
		ts := ts.with(t)
		text := []byte(strings.Repeat("not a photo at all. ", 30))
		upload(t, "attText", len(text), text, 415)
		status, failure := ts.attachmentPulled(alice.token, "attText")
		if status != "failed" || !strings.Contains(failure.(string), "text/plain") {
			t.Fatalf("attachment %v (%v), want failed with the reason", status, failure)
		}
	})
	t.Run("an upload of another length than declared fails its attachment with the reason", func(t *testing.T) {
		ts := ts.with(t)
		photo := noisyPNG(t)
		upload(t, "attShort", len(photo)+10, photo, 400)
		status, failure := ts.attachmentPulled(alice.token, "attShort")
		if status != "failed" || !strings.Contains(failure.(string), "declared") {
			t.Fatalf("attachment %v (%v), want failed with the reason", status, failure)
		}
		var fb feedbackView
		ts.must(ts.call("GET", "/v1/feedback/fbOK", alice.token, nil), 200).json(t, &fb)
		if len(fb.Attachments) != 2 || fb.Attachments[0].Status != "failed" || fb.Attachments[1].Status != "failed" {
			t.Fatalf("REST attachments %+v", fb.Attachments)
		}
	})
}
