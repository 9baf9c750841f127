package training_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	minio "github.com/minio/minio-go/v7"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/internal/training"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/media"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	opsUser = &auth.Principal{UserID: "olga", Roles: []auth.Role{auth.RoleEmployee, auth.RoleOps}, Department: "Ops"}
	sales   = &auth.Principal{UserID: "sam", Roles: []auth.Role{auth.RoleEmployee}, Department: "Sales"}
	it      = &auth.Principal{UserID: "ian", Roles: []auth.Role{auth.RoleEmployee}, Department: "IT"}
)

type fixture struct {
	t     testing.TB
	ctx   context.Context
	db    *mongodb.DB
	store *media.MinIO
	clock *testenv.Clock
	svc   *training.Service
	api   *httptest.Server // serves the playback playlists like the API does
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{t: t, ctx: t.Context(), db: testenv.Mongo(t), store: testenv.Store(t, "training"),
		clock: testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))}
	f.api = httptest.NewServer(http.HandlerFunc(f.servePlaylist))
	t.Cleanup(f.api.Close)
	f.svc = f.service("worker-a")
	if err := f.svc.EnsureIndexes(f.ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// service returns a Service on the fixture's database, store and clock, as another instance.
func (f *fixture) service(holder string) *training.Service {
	return &training.Service{DB: f.db, Store: f.store, PlaybackKey: []byte(strings.Repeat("k", 32)),
		PublicBaseURL: f.api.URL, Preset: "ultrafast", Holder: holder, TempDir: f.t.TempDir(), Now: f.clock.Now}
}

// servePlaylist answers /v1/training/play/{video}/{token}/{name}.m3u8 like the API's handler.
func (f *fixture) servePlaylist(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/training/play/"), "/")
	if len(parts) != 3 || !strings.HasSuffix(parts[2], ".m3u8") {
		http.NotFound(w, r)
		return
	}
	text, err := f.svc.Playlist(r.Context(), parts[0], parts[1], strings.TrimSuffix(parts[2], ".m3u8"))
	if err != nil {
		status := map[apperr.Code]int{apperr.Forbidden: 403, apperr.NotFound: 404}[apperr.CodeOf(err)]
		if status == 0 {
			status = 500
		}
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	_, _ = w.Write([]byte(text))
}

// clip generates a test video with ffmpeg and returns its path.
func clip(t *testing.T, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	full := append([]string{"-hide_banner", "-v", "error", "-y"}, args...)
	if b, err := exec.Command("ffmpeg", append(full, out)...).CombinedOutput(); err != nil {
		t.Fatalf("generate %s: %v\n%s", name, err, b)
	}
	return out
}

// landscape is a 720p clip with a tone, of secs seconds.
func landscape(t *testing.T, secs int) string {
	return clip(t, "landscape.mp4", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440", "-t", strconv.Itoa(secs),
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
}

func (f *fixture) createVideo(in training.Input) *training.Video {
	f.t.Helper()
	if in.Title == "" {
		in.Title = "Filing a visit record"
	}
	v, err := f.svc.Create(f.ctx, opsUser, in)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// upload stores file in the uploads bucket as the tus store would and completes it.
func (f *fixture) upload(videoID, file string) (upload.Info, error) {
	f.t.Helper()
	id := testenv.RandomName("up")
	b, err := os.ReadFile(file)
	if err != nil {
		f.t.Fatal(err)
	}
	key := upload.ObjectPrefix + "/" + id
	if _, err := f.store.Put(f.ctx, media.Uploads, key, strings.NewReader(string(b)), int64(len(b)), "video/mp4"); err != nil {
		f.t.Fatal(err)
	}
	in := upload.Info{ID: id, Purpose: training.UploadPurpose, UserID: opsUser.UserID, ContentType: "video/mp4",
		Size: int64(len(b)), Bucket: media.Uploads, Key: key, Meta: map[string]string{"video_id": videoID}}
	return in, f.svc.CompleteUpload(f.ctx, opsUser, in)
}

// process runs queued jobs until none is left.
func (f *fixture) process(svc *training.Service) {
	f.t.Helper()
	for {
		ran, err := svc.RunOne(f.ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		if !ran {
			return
		}
	}
}

func (f *fixture) opsVideo(id string) *training.Video {
	f.t.Helper()
	v, err := f.svc.Get(f.ctx, opsUser, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// objects lists the keys in the videos bucket under prefix.
func (f *fixture) objects(bucket media.Bucket, prefix string) []string {
	f.t.Helper()
	var keys []string
	admin := testenv.MinIOAdmin(f.t)
	for o := range admin.ListObjects(f.ctx, f.store.BucketName(bucket), minioListOptions(prefix)) {
		if o.Err != nil {
			f.t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

func minioListOptions(prefix string) minio.ListObjectsOptions {
	return minio.ListObjectsOptions{Prefix: prefix, Recursive: true}
}

func contextWithCancel(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(parent)
}
