package feedback

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/photometa/phototest"
	"github.com/mportal/mportal/media"
)

// readCountingStore counts the objects opened through it and, once for the key replaceOnOpen,
// replaces that object right after opening it (another writer racing the rewrite).
type readCountingStore struct {
	media.Store
	opens         atomic.Int32
	replaceOnOpen string
	replaceWith   []byte
	onOpen        func() // called on each Open, when set
}

func (s *readCountingStore) Open(ctx context.Context, bucket media.Bucket, key string, offset, length int64) (io.ReadCloser, error) {
	s.opens.Add(1)
	if s.onOpen != nil {
		s.onOpen()
	}
	r, err := s.Store.Open(ctx, bucket, key, offset, length)
	if err == nil && key == s.replaceOnOpen {
		s.replaceOnOpen = ""
		if _, perr := s.Store.Put(ctx, bucket, key, bytes.NewReader(s.replaceWith), int64(len(s.replaceWith)), "image/jpeg"); perr != nil {
			r.Close()
			return nil, perr
		}
	}
	return r, err
}

// TestStoredPhotosLoseTheirLocation: photos completed before their location was removed at
// upload (settled without stripLocation, no marker) lose it in the next pass of
// StripStoredPhotos, which reads each photo once: not one CompleteUpload recorded, not one
// already done, and it never brings back a deleted photo or writes over a replaced one.
func TestStoredPhotosLoseTheirLocation(t *testing.T) {
	store := newStore(t)
	f := newFixture(t, store)
	ctx := context.Background()
	jpeg := phototest.WithLocation(t, phototest.JPEG(t), ".jpg")
	plain := pngBytes(t)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("old-fb", "see photos")}}}), 1)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Created: []any{
		with(attachment("old-jpeg", "old-fb"), "content_type", "image/jpeg", "filename", "a.jpg", "size", len(jpeg)),
		with(attachment("old-png", "old-fb"), "size", len(plain)),
		with(attachment("old-gone", "old-fb"), "content_type", "image/jpeg", "filename", "b.jpg", "size", len(jpeg)),
		with(attachment("old-raced", "old-fb"), "content_type", "image/jpeg", "filename", "c.jpg", "size", len(jpeg)),
		with(attachment("new-jpeg", "old-fb"), "content_type", "image/jpeg", "filename", "d.jpg", "size", len(jpeg)),
		with(attachment("deleted", "old-fb"), "content_type", "image/jpeg", "filename", "e.jpg", "size", len(jpeg)),
	}}}), 6)
	// As an earlier version stored them: the upload settled as it came.
	keys := map[string]string{}
	storedAsBefore := func(id string, photo []byte, contentType string) {
		t.Helper()
		in := uploaded(t, store, id, photo)
		if _, err := store.Put(ctx, media.Uploads, in.Key, bytes.NewReader(photo), in.Size, contentType); err != nil {
			t.Fatal(err)
		}
		keys[id] = in.Key
		if err := f.svc.settleAttachment(ctx, &attachmentDoc{ID: id}, AttachmentComplete, bson.D{{Key: "bucket", Value: string(in.Bucket)},
			{Key: "object_key", Value: in.Key}, {Key: "size", Value: in.Size}}); err != nil {
			t.Fatal(err)
		}
	}
	storedAsBefore("old-jpeg", jpeg, "image/jpeg")
	storedAsBefore("old-png", plain, "image/png")
	storedAsBefore("old-gone", jpeg, "image/jpeg")
	storedAsBefore("old-raced", jpeg, "image/jpeg")
	storedAsBefore("deleted", jpeg, "image/jpeg")
	// The photo of an attachment whose feedback is being deleted: gone from storage first.
	if err := store.Delete(ctx, media.Uploads, keys["old-gone"]); err != nil {
		t.Fatal(err)
	}
	// Stored by this version: stripped and recorded by CompleteUpload.
	in := uploaded(t, store, "new-jpeg", jpeg)
	in.Meta["filetype"] = "image/jpeg"
	if err := f.svc.CompleteUpload(ctx, alice, in); err != nil {
		t.Fatal(err)
	}
	// A marker whose attachment was deleted since is dropped by the pass.
	if err := f.svc.markStripped(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Deleted: []string{"deleted"}}}), 1)

	racer := []byte("a photo written meanwhile, without a location")
	spy := &readCountingStore{Store: store, replaceOnOpen: keys["old-raced"], replaceWith: racer}
	f.svc.Store = spy
	defer func() { f.svc.Store = store }()

	r, err := f.svc.StripStoredPhotos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (StripReport{Checked: 2, Rewritten: 1, Skipped: 2}); r != want {
		t.Fatalf("first pass: %+v, want %+v", r, want)
	}
	if n := spy.opens.Load(); n != 3 {
		t.Fatalf("the first pass read %d photos, want 3 (not the one CompleteUpload recorded)", n)
	}
	stored := object(t, store, keys["old-jpeg"])
	if len(stored) != len(jpeg) {
		t.Fatalf("the rewritten photo has %d bytes, %d before", len(stored), len(jpeg))
	}
	noLocation(t, stored, ".jpg")
	if info, err := store.Stat(ctx, media.Uploads, keys["old-jpeg"]); err != nil || info.ContentType != "image/jpeg" {
		t.Fatalf("the rewritten object: %+v, %v", info, err)
	}
	if !bytes.Equal(object(t, store, keys["old-png"]), plain) {
		t.Fatal("a photo without a location was rewritten")
	}
	if _, err := store.Stat(ctx, media.Uploads, keys["old-gone"]); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a deleted photo came back: %v", err)
	}
	if !bytes.Equal(object(t, store, keys["old-raced"]), racer) {
		t.Fatal("the pass wrote over a photo replaced while it was read")
	}
	// old-jpeg, old-png and new-jpeg; not the deleted attachment's.
	if n := f.count(strippedColl); n != 3 {
		t.Fatalf("%d photos recorded as stripped, want 3", n)
	}

	opens := spy.opens.Load()
	if r, err := f.svc.StripStoredPhotos(ctx); err != nil || r != (StripReport{Checked: 1, Skipped: 1}) {
		t.Fatalf("second pass: %+v, %v; want the raced photo checked and the gone one skipped", r, err)
	}
	if n := spy.opens.Load() - opens; n != 1 {
		t.Fatalf("the second pass read %d photos, want 1 (the one replaced during the first)", n)
	}
}

// TestStoredPhotosDoneByAnotherInstanceAreSkipped: a pass reads again, every stripRecheck photos,
// which photos other instances have recorded meanwhile, and does not read those.
func TestStoredPhotosDoneByAnotherInstanceAreSkipped(t *testing.T) {
	defer func(n int) { stripRecheck = n }(stripRecheck)
	stripRecheck = 1
	store := newStore(t)
	f := newFixture(t, store)
	ctx := context.Background()
	jpeg := phototest.WithLocation(t, phototest.JPEG(t), ".jpg")
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("many-fb", "photos")}}}), 1)
	photos := ids(5, "many-")
	var records []any
	for _, id := range photos {
		records = append(records, with(attachment(id, "many-fb"), "content_type", "image/jpeg", "filename", id+".jpg", "size", len(jpeg)))
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Created: records}}), len(photos))
	for _, id := range photos {
		in := uploaded(t, store, id, jpeg)
		if err := f.svc.settleAttachment(ctx, &attachmentDoc{ID: id}, AttachmentComplete, bson.D{{Key: "bucket", Value: string(in.Bucket)},
			{Key: "object_key", Value: in.Key}, {Key: "size", Value: in.Size}}); err != nil {
			t.Fatal(err)
		}
	}
	spy := &readCountingStore{Store: store}
	spy.onOpen = func() { // another instance records every photo while this one reads its first
		spy.onOpen = nil
		for _, id := range photos {
			if err := f.svc.markStripped(ctx, id); err != nil {
				t.Error(err)
			}
		}
	}
	f.svc.Store = spy
	defer func() { f.svc.Store = store }()
	r, err := f.svc.StripStoredPhotos(ctx)
	if err != nil || r != (StripReport{Checked: 1, Rewritten: 1}) {
		t.Fatalf("the pass: %+v, %v; want one photo checked, the rest left to the other instance", r, err)
	}
	if n := spy.opens.Load(); n != 1 {
		t.Fatalf("read %d photos, want 1", n)
	}
}
