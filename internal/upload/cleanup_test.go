package upload_test

import (
	"net/http"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/upload"
)

func TestCleanupAbandoned(t *testing.T) {
	f := newFixture(t)
	file := pngFile(6 << 20)
	stale := f.create(t, "heidi", len(file), meta("heidi"))
	// 5 MiB + 1 byte: one part in the S3 multipart upload and one byte in tusd's incomplete part.
	wantStatus(t, f.patch(t, "heidi", stale, 0, file[:5<<20+1]), http.StatusNoContent)
	if n := f.multipartUploads(t, stale); n != 1 {
		t.Fatalf("%d multipart uploads in progress, want 1", n)
	}
	f.clock.Advance(25 * time.Hour)
	fresh := f.create(t, "heidi", 100, meta("heidi"))
	wantStatus(t, f.patch(t, "heidi", fresh, 0, pngFile(100)[:10]), http.StatusNoContent)

	n, err := f.svc.CleanupAbandoned(ctx(t), 24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("CleanupAbandoned = %d, %v; want 1 upload deleted", n, err)
	}
	if n := f.multipartUploads(t, stale, fresh); n != 1 {
		t.Fatalf("%d multipart uploads left, want only the fresh one's", n)
	}
	for _, suffix := range []string{"", ".info", ".part"} {
		f.wantNoObject(t, keyOf(stale)+suffix)
	}
	wantProblem(t, f.request(t, http.MethodHead, stale, "heidi", nil, nil), http.StatusNotFound, apperr.NotFound)
	if got := f.offset(t, "heidi", fresh); got != 10 {
		t.Fatalf("the fresh upload's offset is %d, want 10", got)
	}

	t.Run("a threshold of zero removes every unfinished upload", func(t *testing.T) {
		n, err := f.svc.CleanupAbandoned(ctx(t), 0)
		if err != nil || n != 1 {
			t.Fatalf("CleanupAbandoned = %d, %v; want 1", n, err)
		}
		if n := f.multipartUploads(t, stale, fresh); n != 0 {
			t.Fatalf("%d multipart uploads left", n)
		}
	})
	t.Run("a second run finds nothing", func(t *testing.T) {
		if n, err := f.svc.CleanupAbandoned(ctx(t), 0); err != nil || n != 0 {
			t.Fatalf("CleanupAbandoned = %d, %v; want 0", n, err)
		}
	})
}

func TestCleanupRetriesAFailedCompletion(t *testing.T) {
	f := newFixture(t)
	f.failNext = 1
	file := pngFile(2000)
	loc := f.create(t, "ivan", len(file), meta("ivan"))
	wantProblem(t, f.patch(t, "ivan", loc, 0, file), http.StatusServiceUnavailable, apperr.Unavailable)
	if len(f.completedUploads()) != 0 {
		t.Fatal("a failed Complete was recorded")
	}
	// The worker retries at once, whatever the threshold: the bytes are all there.
	n, err := f.svc.CleanupAbandoned(ctx(t), 24*time.Hour)
	if err != nil || n != 0 {
		t.Fatalf("CleanupAbandoned = %d, %v; want nothing deleted", n, err)
	}
	done := f.completedUploads()
	if len(done) != 1 || done[0].UserID != "ivan" || done[0].Size != int64(len(file)) {
		t.Fatalf("completed %+v", done)
	}
	f.wantObject(t, done[0].Key, file)
	if n, err := f.svc.CleanupAbandoned(ctx(t), 0); err != nil || n != 0 || len(f.completedUploads()) != 1 {
		t.Fatalf("a completed upload was touched again: %d, %v, %d completions", n, err, len(f.completedUploads()))
	}
}

// multipartUploads counts the S3 multipart uploads in progress for the uploads at locs (MinIO
// lists multipart uploads of one object key at a time).
func (f *fixture) multipartUploads(t *testing.T, locs ...string) int {
	t.Helper()
	n := 0
	for _, loc := range locs {
		for up := range f.admin.ListIncompleteUploads(ctx(t), f.bucket, keyOf(loc), false) {
			if up.Err != nil {
				t.Fatal(up.Err)
			}
			n++
		}
	}
	return n
}

func TestCleanupFinishesWhatACrashInterrupted(t *testing.T) {
	t.Run("storage failing at the last byte", func(t *testing.T) {
		f := newFixture(t)
		file := pngFile(3000)
		loc := f.create(t, "judy", len(file), meta("judy"))
		f.failOpens.Store(1) // the type check cannot read the object
		wantProblem(t, f.patch(t, "judy", loc, 0, file), http.StatusServiceUnavailable, apperr.Unavailable)
		if n, err := f.svc.CleanupAbandoned(ctx(t), 24*time.Hour); err != nil || n != 0 {
			t.Fatalf("CleanupAbandoned = %d, %v", n, err)
		}
		if done := f.completedUploads(); len(done) != 1 || done[0].Size != int64(len(file)) {
			t.Fatalf("completed %+v", done)
		}
	})
	t.Run("a process stopping between the last byte and the completion", func(t *testing.T) {
		f := newFixture(t)
		file := pngFile(3000)
		loc := f.create(t, "judy", len(file), meta("judy"))
		f.failNext = 1
		wantProblem(t, f.patch(t, "judy", loc, 0, file), http.StatusServiceUnavailable, apperr.Unavailable)
		// As if the process had stopped before the hook ran: the record still says uploading.
		id := keyOf(loc)[len("tus/"):]
		if _, err := f.db.Collection("uploads").UpdateOne(ctx(t), bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: "uploading"}}}}); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.CleanupAbandoned(ctx(t), 24*time.Hour); err != nil || n != 0 || len(f.completedUploads()) != 0 {
			t.Fatalf("a young upload was settled early: %d, %v", n, err)
		}
		f.clock.Advance(25 * time.Hour)
		if n, err := f.svc.CleanupAbandoned(ctx(t), 24*time.Hour); err != nil || n != 0 {
			t.Fatalf("CleanupAbandoned = %d, %v; want the upload finished, not deleted", n, err)
		}
		done := f.completedUploads()
		if len(done) != 1 {
			t.Fatalf("completed %+v", done)
		}
		f.wantObject(t, done[0].Key, file)
	})
}

func TestCleanupForgetsSettledUploads(t *testing.T) {
	f := newFixture(t)
	loc := f.create(t, "kim", 100, meta("kim"))
	wantStatus(t, f.patch(t, "kim", loc, 0, pngFile(100)), http.StatusNoContent)
	f.clock.Advance(upload.RecordRetention - time.Hour)
	if _, err := f.svc.CleanupAbandoned(ctx(t), 0); err != nil {
		t.Fatal(err)
	}
	f.wantRecords(t, 1)
	f.clock.Advance(2 * time.Hour)
	if _, err := f.svc.CleanupAbandoned(ctx(t), 0); err != nil {
		t.Fatal(err)
	}
	f.wantRecords(t, 0)
}

func (f *fixture) wantRecords(t *testing.T, want int64) {
	t.Helper()
	if n, err := f.db.Collection("uploads").CountDocuments(ctx(t), bson.D{}); err != nil || n != want {
		t.Fatalf("%d upload records, %v; want %d", n, err, want)
	}
}

// A client whose last PATCH failed after its bytes were stored asks HEAD, reads the full
// offset and takes the upload as done: HEAD finishes it first (answering 503 while that fails).
// Before, the upload waited for the hourly worker, and its attachment stayed pending until then
// (the fault rig found one during its database outage).
func TestHeadFinishesAnUploadWhoseLastPatchFailed(t *testing.T) {
	f := newFixture(t)
	f.failNext = 2
	file := pngFile(2000)
	loc := f.create(t, "ivan", len(file), meta("ivan"))
	wantProblem(t, f.patch(t, "ivan", loc, 0, file), http.StatusServiceUnavailable, apperr.Unavailable)
	resp := f.request(t, http.MethodHead, loc, "ivan", nil, nil)
	wantStatus(t, resp, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("a HEAD that could not finish the upload has no Retry-After")
	}
	if len(f.completedUploads()) != 0 {
		t.Fatal("completed while Complete failed")
	}
	if n := f.offset(t, "ivan", loc); n != len(file) {
		t.Fatalf("offset %d, want %d", n, len(file))
	}
	done := f.completedUploads()
	if len(done) != 1 || done[0].Size != int64(len(file)) {
		t.Fatalf("after the HEAD: completed %+v", done)
	}
	f.wantObject(t, done[0].Key, file)
	f.offset(t, "ivan", loc) // a finished upload is left alone
	if len(f.completedUploads()) != 1 {
		t.Fatal("completed twice")
	}
}
