package media_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
)

func TestPutStatOpen(t *testing.T) {
	f := newFixture(t)
	data := []byte("0123456789abcdefghij")
	before := time.Now().Add(-time.Minute)
	info, err := f.store.Put(ctx(t), media.Images, "announcements/a1/cover.png", bytes.NewReader(data), int64(len(data)), "image/png")
	if err != nil {
		t.Fatal(err)
	}
	if info.Bucket != media.Images || info.Key != "announcements/a1/cover.png" || info.Size != int64(len(data)) ||
		info.ContentType != "image/png" || info.ETag == "" {
		t.Fatalf("Put returned %+v", info)
	}
	if info.LastModified.Before(before) || info.LastModified.Location() != time.UTC {
		t.Fatalf("LastModified = %v, want a recent UTC time", info.LastModified)
	}
	stat, err := f.store.Stat(ctx(t), media.Images, "announcements/a1/cover.png")
	if err != nil {
		t.Fatal(err)
	}
	if stat != info {
		t.Fatalf("Stat = %+v, Put returned %+v", stat, info)
	}

	reads := []struct {
		name           string
		offset, length int64
		want           string
	}{
		{"reads the whole object", 0, -1, string(data)},
		{"reads the whole object by its length", 0, 20, string(data)},
		{"reads a range in the middle", 5, 4, "5678"},
		{"reads from an offset to the end", 15, -1, "fghij"},
		{"reads the last byte", 19, 1, "j"},
		{"reads nothing for length zero", 7, 0, ""},
		{"reads nothing for length zero at the end", 20, 0, ""},
	}
	for _, tc := range reads {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := f.store.Open(ctx(t), media.Images, "announcements/a1/cover.png", tc.offset, tc.length)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(readAll(t, rc)); got != tc.want {
				t.Fatalf("read %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOpenRejectsRangesOutsideTheObject(t *testing.T) {
	f := newFixture(t)
	f.put(t, media.Artifacts, "builds/app.apk", []byte("0123456789"))
	f.put(t, media.Artifacts, "builds/empty.apk", nil)
	cases := []struct {
		name           string
		key            string
		offset, length int64
	}{
		{"rejects an offset past the end", "builds/app.apk", 11, -1},
		{"rejects an offset at the end of a non-empty object", "builds/app.apk", 10, -1},
		{"rejects a range that runs past the end", "builds/app.apk", 8, 5},
		{"rejects a range that starts past the end", "builds/app.apk", 20, 5},
		{"rejects an empty range past the end", "builds/app.apk", 11, 0},
		{"rejects a range in an empty object", "builds/empty.apk", 0, 1},
		{"rejects a negative offset", "builds/app.apk", -1, 2},
		{"rejects a length below -1", "builds/app.apk", 0, -2},
		{"rejects a range whose end overflows", "builds/app.apk", 5, 1<<63 - 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := f.store.Open(ctx(t), media.Artifacts, tc.key, tc.offset, tc.length)
			if err == nil {
				rc.Close()
			}
			wantCode(t, err, apperr.Invalid)
		})
	}
	t.Run("reads an empty object to the end", func(t *testing.T) {
		rc, err := f.store.Open(ctx(t), media.Artifacts, "builds/empty.apk", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, rc); len(got) != 0 {
			t.Fatalf("read %q from an empty object", got)
		}
	})
}

func TestMissingObjectsAreNotFound(t *testing.T) {
	f := newFixture(t)
	const key = "feedback/f1/missing.jpg"
	_, err := f.store.Stat(ctx(t), media.Uploads, key)
	wantCode(t, err, apperr.NotFound)
	if e, _ := apperr.As(err); e.Message != "object not found" {
		t.Fatalf("Message = %q; it must be ours, not the storage server's", e.Message)
	}
	_, err = f.store.Open(ctx(t), media.Uploads, key, 0, -1)
	wantCode(t, err, apperr.NotFound)
	_, err = f.store.Open(ctx(t), media.Uploads, key, 3, 2)
	wantCode(t, err, apperr.NotFound)
	_, err = f.store.Open(ctx(t), media.Uploads, key, 0, 0)
	wantCode(t, err, apperr.NotFound)
	_, _, err = f.store.ReaderAt(ctx(t), media.Uploads, key)
	wantCode(t, err, apperr.NotFound)
}

func TestMissingBucketIsNotFound(t *testing.T) {
	f := newFixtureWithoutBuckets(t)
	_, err := f.store.Stat(ctx(t), media.Videos, "a.mp4")
	wantCode(t, err, apperr.NotFound)
	_, err = f.store.Put(ctx(t), media.Videos, "a.mp4", bytes.NewReader([]byte("x")), 1, "video/mp4")
	wantCode(t, err, apperr.NotFound)
}

func TestDeleteIsIdempotent(t *testing.T) {
	f := newFixture(t)
	f.put(t, media.Videos, "training/t1/intro.mp4", []byte("video"))
	for i := range 2 {
		if err := f.store.Delete(ctx(t), media.Videos, "training/t1/intro.mp4"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	_, err := f.store.Stat(ctx(t), media.Videos, "training/t1/intro.mp4")
	wantCode(t, err, apperr.NotFound)
	if err := f.store.Delete(ctx(t), media.Videos, "never/stored.mp4"); err != nil {
		t.Fatalf("Delete of a never stored object: %v", err)
	}
}

func TestDeleteFolder(t *testing.T) {
	f := newFixture(t)
	keys := func(prefix string) []string {
		var out []string
		for o := range f.admin.ListObjects(ctx(t), f.bucketName(media.Videos), minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			out = append(out, o.Key)
		}
		return out
	}
	// More than one RemoveObjects batch (1,000 keys), at any depth, next to objects that share
	// the folder's name as a prefix without being in it.
	var g errgroup.Group
	g.SetLimit(16)
	for i := range 1010 {
		g.Go(func() error {
			key := fmt.Sprintf("training/v1/j1/720p/seg%04d.ts", i)
			_, err := f.store.Put(ctx(t), media.Videos, key, bytes.NewReader([]byte("x")), 1, "video/mp2t")
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	f.put(t, media.Videos, "training/v1/j1/master.m3u8", []byte("m"))
	kept := []string{"training/v1/j1", "training/v1/j10/master.m3u8", "training/v1/j1.mp4"}
	for _, k := range kept {
		f.put(t, media.Videos, k, []byte("k"))
	}
	if err := f.store.DeleteFolder(ctx(t), media.Videos, "training/v1/j1"); err != nil {
		t.Fatal(err)
	}
	if left := keys("training/v1/j1/"); len(left) != 0 {
		t.Fatalf("%d objects left in the folder, e.g. %s", len(left), left[0])
	}
	if got := keys("training/"); !slices.Equal(got, []string{"training/v1/j1", "training/v1/j1.mp4", "training/v1/j10/master.m3u8"}) {
		t.Fatalf("objects outside the folder: %v, want %v kept", got, kept)
	}
	if err := f.store.DeleteFolder(ctx(t), media.Videos, "training/v1/j1"); err != nil {
		t.Fatalf("deleting an empty folder: %v", err)
	}
	for _, bad := range []string{"", "training/", "/training", "training/../v2", "a//b"} {
		err := f.store.DeleteFolder(ctx(t), media.Videos, bad)
		wantCode(t, err, apperr.Invalid)
	}
	t.Run("unavailable storage", func(t *testing.T) {
		store, err := media.NewMinIO(ctx(t), media.MinIOConfig{Endpoint: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
			AccessKey: testenv.MinIOAccessKey, SecretKey: testenv.MinIOSecretKey, BucketPrefix: "mportal-"})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, store.DeleteFolder(ctx(t), media.Videos, "training/v1/j1"), apperr.Unavailable)
	})
}

func TestPutStreamsUnknownSizes(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name string
		size int
	}{
		{"streams a small body", 1000},
		{"streams an empty body", 0},
		{"streams a body of several parts", 16<<20 + 123457},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBytes(t, tc.size)
			info, err := f.store.Put(ctx(t), media.Uploads, "tus/"+tc.name, unsized{bytes.NewReader(data)}, -1, "")
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != int64(tc.size) || info.ContentType != "application/octet-stream" {
				t.Fatalf("Put returned %+v, want size %d and the default content type", info, tc.size)
			}
			rc, err := f.store.Open(ctx(t), media.Uploads, "tus/"+tc.name, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(readAll(t, rc)) != sha256.Sum256(data) {
				t.Fatal("read back different bytes")
			}
		})
	}
}

func TestPutReportsBadUploads(t *testing.T) {
	f := newFixture(t)
	t.Run("passes the reader's own error through", func(t *testing.T) {
		tooLarge := apperr.New(apperr.TooLarge, "photo is over 10 MB")
		r := &failingReader{data: []byte("partial"), err: tooLarge}
		_, err := f.store.Put(ctx(t), media.Uploads, "photo.jpg", r, -1, "image/jpeg")
		wantCode(t, err, apperr.TooLarge)
		_, err = f.store.Stat(ctx(t), media.Uploads, "photo.jpg")
		wantCode(t, err, apperr.NotFound)
	})
	t.Run("passes a plain reader error through as internal", func(t *testing.T) {
		r := &failingReader{data: []byte("partial"), err: io.ErrClosedPipe}
		_, err := f.store.Put(ctx(t), media.Uploads, "photo.jpg", r, 100, "image/jpeg")
		wantCode(t, err, apperr.Internal)
	})
	t.Run("rejects a body shorter than its size", func(t *testing.T) {
		_, err := f.store.Put(ctx(t), media.Uploads, "short.jpg", bytes.NewReader([]byte("short")), 100, "image/jpeg")
		wantCode(t, err, apperr.Invalid)
	})
	t.Run("rejects a size below -1", func(t *testing.T) {
		_, err := f.store.Put(ctx(t), media.Uploads, "a.jpg", bytes.NewReader(nil), -2, "image/jpeg")
		wantCode(t, err, apperr.Invalid)
	})
	t.Run("rejects a malformed content type", func(t *testing.T) {
		_, err := f.store.Put(ctx(t), media.Uploads, "a.jpg", bytes.NewReader(nil), 0, "image/")
		wantCode(t, err, apperr.Invalid)
	})
	t.Run("treats an unknown bucket as a bug", func(t *testing.T) {
		_, err := f.store.Put(ctx(t), media.Bucket("public"), "a.jpg", bytes.NewReader(nil), 0, "")
		wantCode(t, err, apperr.Internal)
	})
}

// TestReplaceOnlyTheObjectRead: Replace writes over the object whose ETag it is given, and over
// nothing else: not a newer object under the key (conflict), not a deleted one (nothing comes
// back). Nothing is written when it refuses.
func TestReplaceOnlyTheObjectRead(t *testing.T) {
	f := newFixture(t)
	const key = "tus/replace-me"
	put := func(data string) media.ObjectInfo {
		t.Helper()
		info, err := f.store.Put(ctx(t), media.Uploads, key, bytes.NewReader([]byte(data)), int64(len(data)), "image/jpeg")
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	read := func() string {
		t.Helper()
		return string(testenv.Object(t, f.store, media.Uploads, key))
	}
	replace := func(etag, data string) error {
		_, err := f.store.Replace(ctx(t), media.Uploads, key, etag, bytes.NewReader([]byte(data)), int64(len(data)), "image/jpeg")
		return err
	}

	first := put("first")
	if err := replace(first.ETag, "FIRST"); err != nil {
		t.Fatalf("Replace of the object read: %v", err)
	}
	if got := read(); got != "FIRST" {
		t.Fatalf("after Replace: %q", got)
	}
	if err := replace(first.ETag, "stale"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("Replace over a newer object = %v, want conflict", err)
	}
	if got := read(); got != "FIRST" {
		t.Fatalf("a refused Replace wrote: %q", got)
	}
	if err := replace("", "x"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("Replace without an ETag = %v, want invalid", err)
	}
	second := put("second")
	if err := f.store.Delete(ctx(t), media.Uploads, key); err != nil {
		t.Fatal(err)
	}
	if err := replace(second.ETag, "back"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Replace of a deleted object = %v, want not_found", err)
	}
	if _, err := f.store.Stat(ctx(t), media.Uploads, key); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a deleted object came back: %v", err)
	}
}

// deletingReader deletes the object it replaces once half of it has been sent.
type deletingReader struct {
	r       io.Reader
	sent    int
	at      int
	started bool
	del     func()
}

func (d *deletingReader) Read(p []byte) (int, error) {
	if !d.started && d.sent >= d.at {
		d.started = true
		d.del()
	}
	n, err := d.r.Read(p)
	d.sent += n
	return n, err
}

// TestReplaceOfALargeObjectDeletedMeanwhile: an object deleted while its replacement (larger
// than minio-go's 16 MiB multipart threshold) is being sent stays deleted. As a multipart
// upload, whose completion does not carry If-Match, it came back.
func TestReplaceOfALargeObjectDeletedMeanwhile(t *testing.T) {
	f := newFixture(t)
	const key = "tus/replace-large"
	data := bytes.Repeat([]byte("0123456789abcdef"), (20<<20)/16)
	info, err := f.store.Put(ctx(t), media.Uploads, key, bytes.NewReader(data), int64(len(data)), "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	r := &deletingReader{r: bytes.NewReader(data), at: len(data) / 2, del: func() {
		go func() { deleted <- f.store.Delete(ctx(t), media.Uploads, key) }()
		time.Sleep(200 * time.Millisecond) // the delete reaches MinIO while the rest is sent
	}}
	_, err = f.store.Replace(ctx(t), media.Uploads, key, info.ETag, r, int64(len(data)), "image/jpeg")
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Replace = %v, want success (before the delete) or not_found (after it)", err)
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Stat(ctx(t), media.Uploads, key); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("the object deleted during its replacement is back: %v", err)
	}
}
