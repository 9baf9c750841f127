package feedback

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/photometa/phototest"
	"github.com/mportal/mportal/media"
)

// readCountingStore counts the objects opened through it and races the pass that reads them:
// once for the key replaceOnOpen it replaces that object right after opening it (another writer),
// and it deletes the object deleteOnClose once it has been read (its feedback deleted before the
// pass writes the photo back).
type readCountingStore struct {
	media.Store
	opens         atomic.Int32
	replaceOnOpen string
	replaceWith   []byte
	deleteOnClose string
	onOpen        func() // called on each Open, when set
}

func (s *readCountingStore) Open(ctx context.Context, bucket media.Bucket, key string, offset, length int64) (io.ReadCloser, error) {
	s.opens.Add(1)
	if s.onOpen != nil {
		s.onOpen()
	}
	r, err := s.Store.Open(ctx, bucket, key, offset, length)
	if err != nil {
		return nil, err
	}
	switch key {
	case s.replaceOnOpen:
		s.replaceOnOpen = ""
		if _, err := s.Store.Put(ctx, bucket, key, bytes.NewReader(s.replaceWith), int64(len(s.replaceWith)), "image/jpeg"); err != nil {
			r.Close()
			return nil, err
		}
	case s.deleteOnClose:
		return deleteOnClose{r, func() error { return s.Store.Delete(ctx, bucket, key) }}, nil
	}
	return r, nil
}

type deleteOnClose struct {
	io.ReadCloser
	del func() error
}

func (d deleteOnClose) Close() error { return errors.Join(d.ReadCloser.Close(), d.del()) }

// TestStoredPhotosLoseTheirLocation: photos completed before their location was removed at
// upload (settled without stripLocation, not recorded) lose it in the next pass of
// StripStoredPhotos, which reads each photo once: not one CompleteUpload recorded, not one
// already done. It never brings back a deleted photo or writes over a replaced one, keeps each
// photo's content type, and goes on past a photo it cannot check.
func TestStoredPhotosLoseTheirLocation(t *testing.T) {
	store := newStore(t)
	f := newFixture(t, store)
	ctx := context.Background()
	jpeg := phototest.WithLocation(t, phototest.JPEG(t), ".jpg")
	heic := phototest.WithLocation(t, phototest.HEIC(t), ".heic")
	plain := pngBytes(t)
	huge := make([]byte, MaxAttachmentSize+1) // stored by hand: never completed by an upload
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("old-fb", "see photos")}}}), 1)
	jpegAttachment := func(id string) any {
		return with(attachment(id, "old-fb"), "content_type", "image/jpeg", "filename", id+".jpg", "size", len(jpeg))
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Created: []any{
		jpegAttachment("old-jpeg"), jpegAttachment("old-gone"), jpegAttachment("old-deleted-during"),
		jpegAttachment("old-raced"), jpegAttachment("new-jpeg"), jpegAttachment("deleted"),
		with(attachment("old-heic", "old-fb"), "content_type", "image/heic", "filename", "a.heic", "size", len(heic)),
		with(attachment("old-png", "old-fb"), "size", len(plain)),
		with(attachment("old-huge", "old-fb"), "size", 1),
	}}}), 9)
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
	for _, id := range []string{"old-jpeg", "old-gone", "old-deleted-during", "old-raced", "deleted"} {
		storedAsBefore(id, jpeg, "image/jpeg")
	}
	storedAsBefore("old-heic", heic, "application/octet-stream") // as tusd stores a HEIC
	storedAsBefore("old-png", plain, "image/png")
	storedAsBefore("old-huge", huge, "image/jpeg")
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
	// A record whose attachment was deleted since is dropped by the pass.
	if err := f.svc.markStripped(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Deleted: []string{"deleted"}}}), 1)

	racer := []byte("a photo written meanwhile, without a location")
	spy := &readCountingStore{Store: store, replaceOnOpen: keys["old-raced"], replaceWith: racer,
		deleteOnClose: keys["old-deleted-during"]}
	f.svc.Store = spy
	defer func() { f.svc.Store = store }()

	r, err := f.svc.StripStoredPhotos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Checked: old-jpeg, old-heic, old-png; skipped: old-gone, old-deleted-during, old-raced.
	if want := (StripReport{Checked: 3, Rewritten: 2, Skipped: 3, Failed: 1}); r != want {
		t.Fatalf("first pass: %+v, want %+v", r, want)
	}
	if n := spy.opens.Load(); n != 5 {
		t.Fatalf("the first pass read %d photos, want 5 (not the one CompleteUpload recorded, nor the one too large)", n)
	}
	for _, c := range []struct{ id, ext, contentType string }{{"old-jpeg", ".jpg", "image/jpeg"}, {"old-heic", ".heic", "application/octet-stream"}} {
		stored := object(t, store, keys[c.id])
		if len(stored) != map[string]int{".jpg": len(jpeg), ".heic": len(heic)}[c.ext] {
			t.Fatalf("%s: the rewritten photo has %d bytes", c.id, len(stored))
		}
		noLocation(t, stored, c.ext)
		if info, err := store.Stat(ctx, media.Uploads, keys[c.id]); err != nil || info.ContentType != c.contentType {
			t.Fatalf("%s: the rewritten object: %+v, %v; want content type %s", c.id, info, err, c.contentType)
		}
	}
	if !bytes.Equal(object(t, store, keys["old-png"]), plain) {
		t.Fatal("a photo without a location was rewritten")
	}
	for _, id := range []string{"old-gone", "old-deleted-during"} {
		if _, err := store.Stat(ctx, media.Uploads, keys[id]); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("%s: a deleted photo came back: %v", id, err)
		}
	}
	if !bytes.Equal(object(t, store, keys["old-raced"]), racer) {
		t.Fatal("the pass wrote over a photo replaced while it was read")
	}
	// The three checked, the two gone and new-jpeg; not the deleted attachment's.
	if n := f.count(strippedColl); n != 6 {
		t.Fatalf("%d photos recorded as stripped, want 6", n)
	}

	opens := spy.opens.Load()
	if r, err := f.svc.StripStoredPhotos(ctx); err != nil || r != (StripReport{Checked: 1, Failed: 1}) {
		t.Fatalf("second pass: %+v, %v; want the raced photo checked and the one too large failed again", r, err)
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
