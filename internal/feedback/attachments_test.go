package feedback

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/media"
)

// attachment is an attachment record as the app creates it.
func attachment(id, feedbackID string) map[string]any {
	return map[string]any{"id": id, "feedback_id": feedbackID, "filename": "crash.png", "content_type": "image/png",
		"size": 1234, "status": "complete", "created_at": clientTime}
}

func newStore(t *testing.T) media.Store { return testenv.Store(t, "fb") }

func pngBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// uploaded puts data where the upload service would have, and returns the upload's Info.
func uploaded(t *testing.T, store media.Store, attachmentID string, data []byte) upload.Info {
	t.Helper()
	key := "tus/" + testenv.RandomName("obj")
	if _, err := store.Put(context.Background(), media.Uploads, key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
		t.Fatal(err)
	}
	return upload.Info{ID: key, Purpose: UploadPurpose, UserID: "alice", ContentType: http.DetectContentType(data),
		Size: int64(len(data)), Bucket: media.Uploads, Key: key, Meta: map[string]string{"attachment_id": attachmentID}}
}

func TestAttachments(t *testing.T) {
	store := newStore(t)
	f := newFixture(t, store)
	ctx := context.Background()
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("photo-fb", "see photo")}}}), 1)
	photo := pngBytes(t)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Created: []any{
		with(attachment("a1", "photo-fb"), "size", len(photo)), with(attachment("a2", "photo-fb"), "content_type", "image/heic", "filename", "x.heic"),
	}}}), 2)
	meta := func(id, filetype string) map[string]string {
		return map[string]string{"attachment_id": id, "filetype": filetype, "purpose": UploadPurpose}
	}

	t.Run("the app creates attachments pending whatever status it sends", func(t *testing.T) {
		dev := f.device(alice)
		dev.sync()
		if r := dev.get("feedback_attachments", "a1"); r == nil || r["status"] != AttachmentPending {
			t.Fatalf("pulled %v", r)
		}
	})
	t.Run("rejects bad attachments and more than ten", func(t *testing.T) {
		res := f.push(alice, map[string]changes{"feedback_attachments": {Created: []any{
			with(attachment("big", "photo-fb"), "size", MaxAttachmentSize+1),
			with(attachment("gif", "photo-fb"), "content_type", "image/gif"),
		}}})
		wantRejected(t, res, "big", apperr.Invalid)
		wantRejected(t, res, "gif", apperr.Invalid)
		var more []any
		for _, id := range ids(9, "more") {
			more = append(more, attachment(id, "photo-fb"))
		}
		res = f.push(alice, map[string]changes{"feedback_attachments": {Created: more}})
		if res.Accepted != 8 || len(res.Rejected) != 1 || res.Rejected[0].Code != apperr.Conflict {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("only the author may upload a pending attachment of the declared type", func(t *testing.T) {
		if err := f.svc.AuthorizeUpload(ctx, bob, meta("a1", "image/png")); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("bob: %v", err)
		}
		if err := f.svc.AuthorizeUpload(ctx, alice, meta("missing", "image/png")); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("unknown: %v", err)
		}
		if err := f.svc.AuthorizeUpload(ctx, alice, meta("a1", "image/jpeg")); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("wrong type: %v", err)
		}
		if err := f.svc.AuthorizeUpload(ctx, alice, meta("a1", "image/png")); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.AuthorizeUpload(ctx, alice, meta("a2", "application/octet-stream")); err != nil {
			t.Fatalf("heic: %v", err)
		}
	})
	t.Run("completion links the object once and the author pulls it complete", func(t *testing.T) {
		in := uploaded(t, store, "a1", photo)
		for range 2 {
			if err := f.svc.CompleteUpload(ctx, alice, in); err != nil {
				t.Fatal(err)
			}
		}
		dev := f.device(alice)
		dev.sync()
		if r := dev.get("feedback_attachments", "a1"); r["status"] != AttachmentComplete {
			t.Fatalf("pulled %v", r)
		}
		if err := f.svc.AuthorizeUpload(ctx, alice, meta("a1", "image/png")); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("second upload: %v", err)
		}
		u, _, err := f.svc.AttachmentURL(ctx, olga, "a1")
		if err != nil || !strings.Contains(u.String(), in.Key) {
			t.Fatalf("URL %v %v", u, err)
		}
		if _, _, err := f.svc.AttachmentURL(ctx, bob, "a1"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("bob's download: %v", err)
		}
	})
	t.Run("a HEIC upload is checked by its brand and fails when it is not one", func(t *testing.T) {
		in := uploaded(t, store, "a2", []byte("definitely not a photo, just text that goes on"))
		in.ContentType = "application/octet-stream"
		if err := f.svc.CompleteUpload(ctx, alice, in); !apperr.Is(err, apperr.UnsupportedMedia) {
			t.Fatalf("fake heic: %v", err)
		}
		if _, err := store.Stat(ctx, media.Uploads, in.Key); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("the rejected object is still there: %v", err)
		}
		if _, _, err := f.svc.AttachmentURL(ctx, alice, "a2"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("failed attachment URL: %v", err)
		}
	})
	t.Run("a real HEIC brand completes", func(t *testing.T) {
		wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Deleted: []string{"more00000"}}}), 1)
		heic := append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
		wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Created: []any{
			with(attachment("a3", "photo-fb"), "content_type", "image/heic", "size", len(heic)),
		}}}), 1)
		in := uploaded(t, store, "a3", heic)
		if err := f.svc.CompleteUpload(ctx, alice, in); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAttachmentUploadsThatFail(t *testing.T) {
	store := newStore(t)
	f := newFixture(t, store)
	ctx := context.Background()
	photo := pngBytes(t)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("fail-fb", "see photo")}}}), 1)
	heicPhoto := append([]byte{0, 0, 0, 24}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Created: []any{
		with(attachment("short", "fail-fb"), "size", len(photo)+1), with(attachment("text", "fail-fb"), "size", 40),
		with(attachment("stalled", "fail-fb"), "content_type", "image/heic", "filename", "x.heic", "size", len(heicPhoto)),
	}}}), 3)
	failure := func(id string) (string, string) {
		dev := f.device(alice)
		dev.sync()
		r := dev.get("feedback_attachments", id)
		return r["status"].(string), r["failure"].(string)
	}

	t.Run("an upload of another size than declared fails the attachment with the reason", func(t *testing.T) {
		in := uploaded(t, store, "short", photo)
		err := f.svc.CompleteUpload(ctx, alice, in)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != "Upload-Length" {
			t.Fatalf("CompleteUpload = %v, want invalid Upload-Length", err)
		}
		status, why := failure("short")
		if status != AttachmentFailed || !strings.Contains(why, "declared") {
			t.Fatalf("pulled %s (%q)", status, why)
		}
		if _, err := store.Stat(ctx, media.Uploads, in.Key); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("the refused object is still there: %v", err)
		}
		fb, err := f.svc.Get(ctx, alice, "fail-fb")
		if err != nil || fb.Attachments[0].Failure != why {
			t.Fatalf("REST view %+v, %v", fb, err)
		}
	})
	t.Run("an upload that failed the type check fails the attachment with the reason", func(t *testing.T) {
		in := uploaded(t, store, "text", []byte("not a photo, forty bytes of plain text.."))
		for range 2 { // the upload service may call it again after a failure
			if err := f.svc.Purpose().Reject(ctx, alice, in, "the file's content is text/plain"); err != nil {
				t.Fatal(err)
			}
		}
		if status, why := failure("text"); status != AttachmentFailed || why != "the file's content is text/plain" {
			t.Fatalf("pulled %s (%q)", status, why)
		}
		if err := f.svc.AuthorizeUpload(ctx, alice, map[string]string{"attachment_id": "text", "filetype": "image/png"}); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("another upload of a failed attachment: %v", err)
		}
	})
	t.Run("a storage fault while the photo is read back leaves the attachment pending, completed later", func(t *testing.T) {
		in := uploaded(t, store, "stalled", heicPhoto)
		good := f.svc.Store
		defer func() { f.svc.Store = good }()
		for _, fault := range []struct {
			name  string
			store media.Store
		}{
			{"MinIO refusing the credentials", storeAt(t, testenv.MinIOEndpoint(t), "not-the-secret-key", store)},
			{"MinIO unreachable (a closed port)", storeAt(t, closedPort(t), testenv.MinIOSecretKey, store)},
		} {
			f.svc.Store = fault.store
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := f.svc.CompleteUpload(cctx, alice, in)
			cancel()
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Unavailable || e.Message != "the photo could not be read back from storage; it is checked again later" {
				t.Fatalf("%s: CompleteUpload = %v, want unavailable in our own words", fault.name, err)
			}
			if status, why := failure("stalled"); status != AttachmentPending || why != "" {
				t.Fatalf("%s: pulled %s (%q), want pending", fault.name, status, why)
			}
		}
		f.svc.Store = good
		if err := f.svc.CompleteUpload(ctx, alice, in); err != nil {
			t.Fatalf("the retry: %v", err)
		}
		if status, why := failure("stalled"); status != AttachmentComplete || why != "" {
			t.Fatalf("after the retry: pulled %s (%q)", status, why)
		}
	})
}

// storeAt is a store on like's buckets reached at endpoint with secretKey.
func storeAt(t *testing.T, endpoint, secretKey string, like media.Store) media.Store {
	t.Helper()
	prefix := strings.TrimSuffix(like.(*media.MinIO).BucketName(media.Uploads), string(media.Uploads))
	s, err := media.NewMinIO(context.Background(), media.MinIOConfig{Endpoint: endpoint, AccessKey: testenv.MinIOAccessKey,
		SecretKey: secretKey, BucketPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
