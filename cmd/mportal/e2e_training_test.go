package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/media"
)

// The contract harness validates HLS playlists, which are text, against their string schema.
func init() {
	openapi3filter.RegisterBodyDecoder("application/vnd.apple.mpegurl",
		func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(body)
			return string(b), err
		})
}

// trainingClip generates a short 720p test video with a tone.
func trainingClip(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(trainingClipAt(t, "clip.mp4", 25, 5))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trainingClipAt writes a 1280x720 clip with a 440 Hz tone, rate frames a second and seconds
// long, made by ffmpeg, as name in a temporary directory, and returns its path.
func trainingClipAt(t *testing.T, name string, rate, seconds int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate="+strconv.Itoa(rate),
		"-f", "lavfi", "-i", "sine=frequency=440", "-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate clip: %v\n%s", err, b)
	}
	return out
}

type trainingVideo struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Percent  int    `json:"percent"`
	Failure  string `json:"failure"`
	Playable bool   `json:"playable"`
}

func TestTrainingVideoFromUploadToPlayback(t *testing.T) {
	port := testenv.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_LISTEN_ADDR": addr,
		"MPORTAL_PUBLIC_BASE_URL": "http://" + addr, "MPORTAL_TRAINING_MAX_DURATION": "30s"}))
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "admin-laptop").AccessToken
	_, otp := ts.createUser(admin, map[string]any{"employee_no": "TV1", "name": "Sam", "department": "Sales"})
	sales := ts.signIn("TV1", otp, "TV1-passphrase", "TV1-phone").AccessToken
	_, otp = ts.createUser(admin, map[string]any{"employee_no": "TV2", "name": "Ian", "department": "IT"})
	it := ts.signIn("TV2", otp, "TV2-passphrase", "TV2-phone").AccessToken

	var v trainingVideo
	ts.must(ts.call("POST", "/v1/ops/training/videos", admin, map[string]any{
		"title": "如何填写拜访记录", "description": "**三步**", "departments": []string{"Sales"}, "tags": []string{"crm"},
	}), 201).json(t, &v)
	ts.must(ts.call("POST", "/v1/ops/training/videos", sales, map[string]any{"title": "x"}), 403)
	ts.must(ts.call("GET", "/v1/ops/training/videos/"+v.ID+"/preview", admin, nil), 409) // nothing uploaded yet

	createUpload := func(size int, filetype string) string {
		return uploadPath(t, ts.must(ts.call("POST", "/v1/uploads/", admin, nil, tus,
			withHeader("Upload-Length", strconv.Itoa(size)),
			withHeader("Upload-Metadata", upload.EncodeMetadata(map[string]string{
				"purpose": "training_video", "video_id": v.ID, "filetype": filetype, "filename": "visit.mp4"}))), 201).header.Get("Location"))
	}
	patch := func(path string, offset int, chunk []byte) response {
		return ts.call("PATCH", path, admin, string(chunk), tus, withHeader("Upload-Offset", strconv.Itoa(offset)),
			withHeader("Content-Type", "application/offset+octet-stream"))
	}

	t.Run("a file that is not a video is refused when its last byte arrives", func(t *testing.T) {
		ts := ts.with(t)
		junk := bytes.Repeat([]byte{0, 1, 2, 3, 0xfe, 0xff}, 2000)
		path := createUpload(len(junk), "application/octet-stream")
		r := ts.must(patch(path, 0, junk), 400)
		if r.problemCode() != "invalid" || !strings.Contains(string(r.body), "video") {
			t.Fatalf("refusal: %s", r.body)
		}
	})

	file := trainingClip(t)
	path := createUpload(len(file), "video/mp4")
	half := len(file) / 2
	ts.must(patch(path, 0, file[:half]), 204)
	sent := (len(file) - half) / 2
	cutPatch(t, ts.base, path, admin, half, file[half:], sent) // the connection drops
	// The body is streamed to tusd, which keeps the bytes that arrived before the drop.
	offset, err := strconv.Atoi(ts.must(ts.call("HEAD", path, admin, nil, tus), 200).header.Get("Upload-Offset"))
	if err != nil || offset != half+sent {
		t.Fatalf("Upload-Offset after the drop: %d %v, want %d", offset, err, half+sent)
	}
	ts.must(patch(path, offset, file[offset:]), 204) // resumed from the server's offset

	eventually(t, 3*time.Minute, "the video is ready", func() bool {
		ts.must(ts.call("GET", "/v1/ops/training/videos/"+v.ID, admin, nil), 200).json(t, &v)
		if v.Status == "failed" {
			t.Fatalf("processing failed: %s", v.Failure)
		}
		return v.Status == "ready"
	})
	ts.must(ts.call("GET", "/v1/ops/training/videos", admin, nil), 200)

	var catalogue struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	ts.must(ts.call("GET", "/v1/training/videos?q=crm", sales, nil), 200).json(t, &catalogue)
	if len(catalogue.Items) != 1 || catalogue.Items[0].ID != v.ID {
		t.Fatalf("sales catalogue: %+v", catalogue)
	}
	ts.must(ts.call("GET", "/v1/training/videos", it, nil), 200).json(t, &catalogue)
	if len(catalogue.Items) != 0 {
		t.Fatalf("IT catalogue: %+v", catalogue)
	}
	ts.must(ts.call("GET", "/v1/training/videos/"+v.ID, sales, nil), 200)
	ts.must(ts.call("GET", "/v1/training/videos/"+v.ID, it, nil), 404)
	ts.must(ts.call("POST", "/v1/training/videos/"+v.ID+"/playback", it, nil), 404)

	var pb struct {
		MasterURL string `json:"master_url"`
	}
	ts.must(ts.call("POST", "/v1/training/videos/"+v.ID+"/playback", sales, nil), 200).json(t, &pb)
	master, err := url.Parse(pb.MasterURL)
	if err != nil || !strings.HasPrefix(pb.MasterURL, ts.base) {
		t.Fatalf("master_url %q", pb.MasterURL)
	}
	t.Run("ffmpeg plays every rendition through the API", func(t *testing.T) {
		out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-i", pb.MasterURL,
			"-map", "0:v", "-map", "0:a", "-f", "null", "-").CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
	})
	t.Run("the playlists answer without a bearer token and refuse a forged one", func(t *testing.T) {
		ts := ts.with(t)
		body := string(ts.must(ts.call("GET", master.Path, "", nil), 200).body)
		if !strings.Contains(body, "RESOLUTION=1280x720") || !strings.Contains(body, "\n720p.m3u8") {
			t.Fatalf("master:\n%s", body)
		}
		variant := string(ts.must(ts.call("GET", strings.Replace(master.Path, "master.m3u8", "360p.m3u8", 1), "", nil), 200).body)
		if !strings.Contains(variant, "X-Amz-Signature=") {
			t.Fatalf("variant:\n%s", variant)
		}
		ts.must(ts.call("GET", strings.Replace(master.Path, "/master.m3u8", "0/master.m3u8", 1), "", nil), 403)
	})
	ts.must(ts.call("GET", "/v1/training/videos/"+v.ID+"/download", sales, nil), 200)

	ts.must(ts.call("POST", "/v1/ops/training/videos/"+v.ID+"/retry", admin, nil), 409)
	ts.must(ts.call("PATCH", "/v1/ops/training/videos/"+v.ID, admin, map[string]any{"published": false}), 200)
	ts.must(ts.call("GET", "/v1/training/videos/"+v.ID, sales, nil), 404)
	ts.must(ts.call("GET", master.Path, "", nil), 404)
	t.Run("ops preview the unpublished video; employees cannot", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("GET", "/v1/training/videos/"+v.ID+"/download", sales, nil), 404)
		ts.must(ts.call("GET", "/v1/ops/training/videos/"+v.ID+"/preview", sales, nil), 403)
		var dl struct {
			URL  string `json:"url"`
			Size int64  `json:"size"`
		}
		ts.must(ts.call("GET", "/v1/ops/training/videos/"+v.ID+"/preview", admin, nil), 200).json(t, &dl)
		res, err := http.Get(dl.URL) // presigned: no bearer token
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil || res.StatusCode != 200 || int64(len(body)) != dl.Size || !bytes.Contains(body[:min(len(body), 64)], []byte("ftyp")) {
			t.Fatalf("preview download: %d, %d bytes of %d, %v", res.StatusCode, len(body), dl.Size, err)
		}
	})
	ts.must(ts.call("DELETE", "/v1/ops/training/videos/"+v.ID, admin, nil), 204)
	ts.must(ts.call("GET", "/v1/ops/training/videos/"+v.ID, admin, nil), 404)
}

func TestTrainingVideoRetryAfterAFailure(t *testing.T) {
	// No worker runs on this instance: the test runs the job itself, after losing its source.
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_TRAINING_WORKERS": "0"}))
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "admin-laptop").AccessToken
	var v trainingVideo
	ts.must(ts.call("POST", "/v1/ops/training/videos", admin, map[string]any{"title": "Retry me"}), 201).json(t, &v)
	file := trainingClip(t)
	path := uploadPath(t, ts.must(ts.call("POST", "/v1/uploads/", admin, nil, tus,
		withHeader("Upload-Length", strconv.Itoa(len(file))),
		withHeader("Upload-Metadata", upload.EncodeMetadata(map[string]string{
			"purpose": "training_video", "video_id": v.ID, "filetype": "video/mp4"}))), 201).header.Get("Location"))
	ts.must(ts.call("PATCH", path, admin, string(file), tus, withHeader("Upload-Offset", "0"),
		withHeader("Content-Type", "application/offset+octet-stream")), 204)
	objectID, _, _ := strings.Cut(path[strings.LastIndexByte(path, '/')+1:], "+")
	ctx := t.Context()
	if err := ts.main.store.Delete(ctx, media.Uploads, upload.ObjectPrefix+"/"+objectID); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, _ = ts.main.training.RunOne(ctx) // fails: the source is gone
	}
	ts.must(ts.call("GET", "/v1/ops/training/videos/"+v.ID, admin, nil), 200).json(t, &v)
	if v.Status != "failed" || v.Failure == "" {
		t.Fatalf("after losing the source: %+v", v)
	}
	ts.must(ts.call("POST", "/v1/ops/training/videos/"+v.ID+"/retry", admin, nil), 202).json(t, &v)
	if v.Status != "uploaded" {
		t.Fatalf("after retry: %+v", v)
	}
}
