package feedback

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/photometa/phototest"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/media"
)

// rewriteStore counts the objects written through it and, when writeTo is set, writes them
// there instead (a store that fails), while everything else goes to the store it wraps.
type rewriteStore struct {
	media.Store
	writeTo media.Store
	puts    atomic.Int32
}

func (s *rewriteStore) Put(ctx context.Context, bucket media.Bucket, key string, r io.Reader, size int64, contentType string) (media.ObjectInfo, error) {
	s.puts.Add(1)
	if s.writeTo != nil {
		return s.writeTo.Put(ctx, bucket, key, r, size, contentType)
	}
	return s.Store.Put(ctx, bucket, key, r, size, contentType)
}

// object reads an object whole.
func object(t *testing.T, store media.Store, key string) []byte {
	t.Helper()
	return testenv.Object(t, store, media.Uploads, key)
}

// noLocation fails unless exiftool reads no location in photo, and Orientation and Make are
// still there.
func noLocation(t *testing.T, photo []byte, ext string) {
	t.Helper()
	tags := phototest.Tags(t, photo, ext)
	if gps := phototest.Location(tags); len(gps) > 0 {
		t.Fatalf("location left in the stored photo: %v", gps)
	}
	if o, m := phototest.Value(tags, "EXIF", "Orientation"), phototest.Value(tags, "EXIF", "Make"); o != phototest.Orientation || m != phototest.Make {
		t.Fatalf("Orientation %q, Make %q after the upload", o, m)
	}
}

func TestAttachmentUploadsLoseTheirLocation(t *testing.T) {
	store := newStore(t)
	f := newFixture(t, store)
	ctx := context.Background()
	jpeg := phototest.WithLocation(t, phototest.JPEG(t), ".jpg")
	heic := phototest.WithLocation(t, phototest.HEIC(t), ".heic")
	plain := pngBytes(t)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("loc-fb", "see photo")}}}), 1)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Created: []any{
		with(attachment("jpeg", "loc-fb"), "content_type", "image/jpeg", "filename", "a.jpg", "size", len(jpeg)),
		with(attachment("heic", "loc-fb"), "content_type", "image/heic", "filename", "a.heic", "size", len(heic)),
		with(attachment("crash", "loc-fb"), "content_type", "image/jpeg", "filename", "b.jpg", "size", len(jpeg)),
		with(attachment("plain", "loc-fb"), "size", len(plain)),
		with(attachment("stalled", "loc-fb"), "content_type", "image/jpeg", "filename", "c.jpg", "size", len(jpeg)),
	}}}), 5)
	status := func(id string) string {
		dev := f.device(alice)
		dev.sync()
		return dev.get("feedback_attachments", id)["status"].(string)
	}
	uploadPhoto := func(id string, photo []byte, filetype string) upload.Info {
		in := uploaded(t, store, id, photo)
		in.Meta["filetype"] = filetype
		return in
	}
	spy := &rewriteStore{Store: store}
	f.svc.Store = spy
	defer func() { f.svc.Store = store }()

	for _, c := range []struct {
		id, ext, filetype string
		photo             []byte
	}{
		{"jpeg", ".jpg", "image/jpeg", jpeg},
		{"heic", ".heic", "application/octet-stream", heic},
	} {
		t.Run("a "+c.ext+" photo loses its location before its attachment is complete, and keeps its orientation", func(t *testing.T) {
			in := uploadPhoto(c.id, c.photo, c.filetype)
			if err := f.svc.CompleteUpload(ctx, alice, in); err != nil {
				t.Fatal(err)
			}
			if s := status(c.id); s != AttachmentComplete {
				t.Fatalf("status %s", s)
			}
			stored := object(t, store, in.Key)
			if len(stored) != len(c.photo) || bytes.Equal(stored, c.photo) {
				t.Fatalf("stored %d bytes (%d uploaded), unchanged: %v", len(stored), len(c.photo), bytes.Equal(stored, c.photo))
			}
			noLocation(t, stored, c.ext)
			if info, err := store.Stat(ctx, media.Uploads, in.Key); err != nil || info.ContentType != c.filetype {
				t.Fatalf("the rewritten object: %+v, %v", info, err)
			}

			puts := spy.puts.Load()
			if err := f.svc.CompleteUpload(ctx, alice, in); err != nil {
				t.Fatalf("CompleteUpload again: %v", err)
			}
			if spy.puts.Load() != puts {
				t.Fatal("CompleteUpload again wrote the photo again")
			}
		})
	}
	t.Run("after a crash between the rewrite and the marking, completing again writes nothing", func(t *testing.T) {
		in := uploadPhoto("crash", jpeg, "image/jpeg")
		if err := f.svc.stripLocation(ctx, "crash", in); err != nil { // the process dies here
			t.Fatal(err)
		}
		puts := spy.puts.Load()
		if err := f.svc.CompleteUpload(ctx, alice, in); err != nil {
			t.Fatal(err)
		}
		if spy.puts.Load() != puts || status("crash") != AttachmentComplete {
			t.Fatalf("wrote %d times, status %s", spy.puts.Load()-puts, status("crash"))
		}
		noLocation(t, object(t, store, in.Key), ".jpg")
	})
	t.Run("a photo without a location is not rewritten", func(t *testing.T) {
		puts := spy.puts.Load()
		in := uploadPhoto("plain", plain, "image/png")
		if err := f.svc.CompleteUpload(ctx, alice, in); err != nil {
			t.Fatal(err)
		}
		if spy.puts.Load() != puts || !bytes.Equal(object(t, store, in.Key), plain) {
			t.Fatal("the photo was rewritten")
		}
	})
	t.Run("a storage failure during the rewrite leaves the attachment pending, with its photo out of reach; the retry completes it", func(t *testing.T) {
		in := uploadPhoto("stalled", jpeg, "image/jpeg")
		for _, fault := range []struct {
			name  string
			store media.Store
		}{
			{"MinIO refusing the credentials", storeAt(t, testenv.MinIOEndpoint(t), "not-the-secret-key", store)},
			{"MinIO unreachable (a closed port)", storeAt(t, closedPort(t), testenv.MinIOSecretKey, store)},
		} {
			f.svc.Store = &rewriteStore{Store: store, writeTo: fault.store}
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := f.svc.CompleteUpload(cctx, alice, in)
			cancel()
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Unavailable || e.Message != stripMessage {
				t.Fatalf("%s: CompleteUpload = %v, want unavailable", fault.name, err)
			}
			if s := status("stalled"); s != AttachmentPending {
				t.Fatalf("%s: status %s, want pending", fault.name, s)
			}
			if _, _, err := f.svc.AttachmentURL(ctx, olga, "stalled"); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("%s: the photo with its location can be downloaded: %v", fault.name, err)
			}
		}
		f.svc.Store = spy
		if err := f.svc.CompleteUpload(ctx, alice, in); err != nil {
			t.Fatalf("the retry: %v", err)
		}
		if s := status("stalled"); s != AttachmentComplete {
			t.Fatalf("after the retry: %s", s)
		}
		noLocation(t, object(t, store, in.Key), ".jpg")
	})
}
