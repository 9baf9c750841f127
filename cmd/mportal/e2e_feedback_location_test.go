package main

import (
	"bytes"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/feedback"
	"github.com/mportal/mportal/internal/photometa/phototest"
)

// TestFeedbackPhotoLocation: a photo's location never reaches the testers a feedback is shared
// with. Alice's phone takes a photo with GPS in its EXIF and XMP (written by exiftool), pushes
// shared feedback with it and uploads it with tus; tess, a tester of the channel, downloads it
// through the API and finds no location, but the photo's orientation and camera are intact.
func TestFeedbackPhotoLocation(t *testing.T) {
	f := newFeedbackFixture(t)
	f.aliceReports(t) // fbA1 is shared with the beta testers
	ts, alice := f.ts.with(t), f.alice
	tess := ts.newMember(f.admin, "E9003", "IT", "en")
	f.joinBeta(t, tess)

	photo := phototest.WithLocation(t, phototest.JPEG(t), ".jpg")
	if len(phototest.Location(phototest.Tags(t, photo, ".jpg"))) == 0 {
		t.Fatal("exiftool wrote no location into the test photo")
	}
	size := len(photo)
	res := ts.syncPush(alice.token, 0, feedbackChanges("feedback_attachments", map[string]any{
		"id": "attGPS", "feedback_id": "fbA1", "filename": "site.jpg", "content_type": "image/jpeg",
		"size": size, "created_at": time.Now().UnixMilli(),
	}))
	if res.Accepted != 1 {
		t.Fatalf("attachment record: %+v", res)
	}

	meta := tusMeta("purpose", feedback.UploadPurpose, "filetype", "image/jpeg", "filename", "site.jpg", "attachment_id", "attGPS")
	created := ts.must(ts.call("POST", "/v1/uploads", alice.token, nil, withHeader("Tus-Resumable", "1.0.0"),
		withHeader("Upload-Length", strconv.Itoa(size)), withHeader("Upload-Metadata", meta)), 201)
	loc, err := url.Parse(created.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	half := size / 2 // two chunks, as a phone on a poor network sends them
	ts.must(ts.call("PATCH", loc.Path, alice.token, string(photo[:half]), tusHeaders(0)...), 204)
	ts.must(ts.call("PATCH", loc.Path, alice.token, string(photo[half:]), tusHeaders(half)...), 204)

	var status any
	for _, r := range ts.syncPull(alice.token, 0).Changes["feedback_attachments"].Updated {
		if r["id"] == "attGPS" {
			status = r["status"]
		}
	}
	if status != "complete" {
		t.Fatalf("attachment status %v after the upload", status)
	}

	r := ts.noRedirects().must(ts.noRedirects().call("GET", "/v1/feedback/attachments/attGPS/content", tess.token, nil), 302)
	resp, err := http.Get(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("download: %d, %v", resp.StatusCode, err)
	}
	if len(got) != size {
		t.Fatalf("downloaded %d bytes, uploaded %d", len(got), size)
	}
	tags := phototest.Tags(t, got, ".jpg")
	if gps := phototest.Location(tags); len(gps) > 0 {
		t.Fatalf("the tester's download still says where the photo was taken: %v", gps)
	}
	if o, m := phototest.Value(tags, "EXIF", "Orientation"), phototest.Value(tags, "EXIF", "Make"); o != phototest.Orientation || m != phototest.Make {
		t.Fatalf("Orientation %q, Make %q in the download", o, m)
	}
	if _, err := jpeg.Decode(bytes.NewReader(got)); err != nil {
		t.Fatalf("the download is no JPEG: %v", err)
	}
}
