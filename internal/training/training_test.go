package training_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/training"
	"github.com/mportal/mportal/media"
)

func TestUploadIsCheckedBeforeProcessing(t *testing.T) {
	f := newFixture(t)
	f.svc.MaxDuration = 3 * time.Second
	v := f.createVideo(training.Input{})
	text := filepath.Join(t.TempDir(), "notes.mp4")
	if err := os.WriteFile(text, bytes.Repeat([]byte("not a video\n"), 200), 0o600); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(landscape(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(t.TempDir(), "corrupt.mp4")
	if err := os.WriteFile(corrupt, append(good[:64:64], bytes.Repeat([]byte{0x42}, 8192)...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"refuses a file that is not a video", text, "format"},
		{"refuses a corrupt video", corrupt, "not a video"},
		{"refuses a video over the duration limit", landscape(t, 5), "longer than the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.upload(v.ID, tc.file)
			if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want invalid saying %q", err, tc.want)
			}
			if got := f.opsVideo(v.ID); got.Status != training.StatusAwaitingUpload {
				t.Fatalf("status = %s after a refused upload", got.Status)
			}
		})
	}
	t.Run("refuses an upload for an unknown video", func(t *testing.T) {
		err := f.svc.AuthorizeUpload(f.ctx, opsUser, map[string]string{"video_id": "nope"})
		if !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("refuses an upload by an employee", func(t *testing.T) {
		err := f.svc.AuthorizeUpload(f.ctx, sales, map[string]string{"video_id": v.ID})
		if !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestMetadata(t *testing.T) {
	f := newFixture(t)
	due := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	tooLate := time.Date(9999, 12, 31, 23, 30, 0, 0, time.FixedZone("", -3600)) // 10000-01-01T00:30Z
	for _, tc := range []struct {
		name  string
		in    training.Input
		field string
	}{
		{"needs a title", training.Input{Title: " "}, "title"},
		{"knows the roles", training.Input{Title: "x", Roles: []string{"boss"}}, "roles"},
		{"needs a due date for a required video", training.Input{Title: "x", Required: true}, "due_at"},
		{"takes a due date only for a required video", training.Input{Title: "x", DueAt: &due}, "due_at"},
		{"knows the languages", training.Input{Title: "x", Language: "fr"}, "language"},
		{"refuses a due date JSON cannot write", training.Input{Title: "x", Required: true, DueAt: &tooLate}, "due_at"},
	} {
		t.Run("refuses bad input: "+tc.name, func(t *testing.T) {
			_, err := f.svc.Create(f.ctx, opsUser, tc.in)
			var ae *apperr.Error
			if !apperr.Is(err, apperr.Invalid) || !asAppErr(err, &ae) || ae.Field != tc.field {
				t.Fatalf("err = %v, want invalid %s", err, tc.field)
			}
		})
	}
	t.Run("sanitizes the description", func(t *testing.T) {
		v := f.createVideo(training.Input{Description: "**Step 1** <script>alert(1)</script> [x](javascript:alert(1))"})
		if strings.Contains(v.DescriptionHTML, "script") || strings.Contains(v.DescriptionHTML, "javascript:") ||
			!strings.Contains(v.DescriptionHTML, "<strong>Step 1</strong>") {
			t.Fatalf("description_html = %q", v.DescriptionHTML)
		}
	})
	t.Run("employees cannot create videos", func(t *testing.T) {
		if _, err := f.svc.Create(f.ctx, sales, training.Input{Title: "x"}); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("err = %v", err)
		}
	})
}

func asAppErr(err error, ae **apperr.Error) bool {
	for err != nil {
		if e, ok := err.(*apperr.Error); ok {
			*ae = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

var uriLine = regexp.MustCompile(`(?m)^[^#\s].*$`)

func get(t *testing.T, u string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestProcessAndPlay(t *testing.T) {
	f := newFixture(t)
	v := f.createVideo(training.Input{Departments: []string{"Sales"}, Category: "Visits", Tags: []string{"crm"}})
	if _, err := f.upload(v.ID, landscape(t, 6)); err != nil {
		t.Fatal(err)
	}
	if got := f.opsVideo(v.ID); got.Status != training.StatusUploaded || got.Playable {
		t.Fatalf("after upload: %+v", got)
	}
	f.process(f.svc)
	got := f.opsVideo(v.ID)
	if got.Status != training.StatusReady || got.Percent != 100 || !got.Playable || got.DurationMS < 5900 || got.PosterURL == "" {
		t.Fatalf("after processing: %+v", got)
	}

	t.Run("a video for another department is not found", func(t *testing.T) {
		list, err := f.svc.Catalogue(f.ctx, it, "")
		if err != nil || len(list) != 0 {
			t.Fatalf("IT catalogue = %v, %v", list, err)
		}
		for name, err := range map[string]error{
			"Video":    second(f.svc.Video(f.ctx, it, v.ID)),
			"Play":     second(f.svc.Play(f.ctx, it, v.ID)),
			"Download": second(f.svc.Download(f.ctx, it, v.ID)),
		} {
			if !apperr.Is(err, apperr.NotFound) {
				t.Errorf("%s: err = %v, want not_found", name, err)
			}
		}
	})
	t.Run("the catalogue finds it", func(t *testing.T) {
		list, err := f.svc.Catalogue(f.ctx, sales, "CRM")
		if err != nil || len(list) != 1 || list[0].ID != v.ID || list[0].PosterURL == "" {
			t.Fatalf("catalogue = %v, %v", list, err)
		}
		resp, body := get(t, list[0].PosterURL, nil)
		if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte{0xff, 0xd8}) {
			t.Fatalf("poster: %d", resp.StatusCode)
		}
	})

	pb, err := f.svc.Play(f.ctx, sales, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ffmpeg plays every rendition through the master playlist", func(t *testing.T) {
		out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-i", pb.MasterURL,
			"-map", "0:v", "-map", "0:a", "-f", "null", "-").CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		probe, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,width,height",
			"-of", "csv=p=0", pb.MasterURL).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(probe), "video,640,360") || !strings.Contains(string(probe), "video,1280,720") {
			t.Fatalf("streams through the master playlist:\n%s", probe)
		}
	})
	t.Run("every segment URL answers and an unsigned one is refused", func(t *testing.T) {
		_, master := get(t, pb.MasterURL, nil)
		variants := uriLine.FindAllString(string(master), -1)
		if len(variants) != 2 {
			t.Fatalf("master:\n%s", master)
		}
		base, _ := url.Parse(pb.MasterURL)
		for _, vr := range variants {
			u, _ := base.Parse(vr)
			resp, playlist := get(t, u.String(), nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", vr, resp.StatusCode)
			}
			segs := uriLine.FindAllString(string(playlist), -1)
			if len(segs) != 2 {
				t.Fatalf("%s:\n%s", vr, playlist)
			}
			for _, seg := range segs {
				resp, body := get(t, seg, nil)
				if resp.StatusCode != 200 || len(body) == 0 || body[0] != 0x47 {
					t.Fatalf("segment %s: %d", seg, resp.StatusCode)
				}
				unsigned, _ := url.Parse(seg)
				unsigned.RawQuery = ""
				if resp, _ := get(t, unsigned.String(), nil); resp.StatusCode != http.StatusForbidden {
					t.Fatalf("unsigned segment: %d, want 403", resp.StatusCode)
				}
			}
		}
		forged := strings.Replace(pb.MasterURL, "/master.m3u8", "x/master.m3u8", 1)
		if resp, _ := get(t, forged, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("forged playback URL: %d", resp.StatusCode)
		}
		// Another video's id with this credential: 403 like any forgery, before anything is
		// read, so ids cannot be probed (it was 404 for an unknown id).
		other := strings.Replace(pb.MasterURL, "/"+v.ID+"/", "/"+strings.Repeat("0", len(v.ID))+"/", 1)
		if resp, _ := get(t, other, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("the credential on an unknown video id: %d, want 403", resp.StatusCode)
		}
	})
	t.Run("the offline copy downloads in ranges and matches its checksum", func(t *testing.T) {
		dl, err := f.svc.Download(f.ctx, sales, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		resp, whole := get(t, dl.URL, nil)
		sum := sha256.Sum256(whole)
		if resp.StatusCode != 200 || int64(len(whole)) != dl.Size || hex.EncodeToString(sum[:]) != dl.SHA256 {
			t.Fatalf("download: %d, %d bytes, want %d", resp.StatusCode, len(whole), dl.Size)
		}
		resp, part := get(t, dl.URL, http.Header{"Range": {"bytes=100-199"}})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, whole[100:200]) {
			t.Fatalf("range: %d", resp.StatusCode)
		}
	})
	t.Run("narrowing the audience ends the playbacks handed out", func(t *testing.T) {
		// Before, a URL handed out (or forwarded) kept playing for up to 2 hours after ops
		// narrowed the audience that it was meant for.
		pb, err := f.svc.Play(f.ctx, sales, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if resp, _ := get(t, pb.MasterURL, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("before: %d", resp.StatusCode)
		}
		legal := []string{"Legal"}
		if _, err := f.svc.Update(f.ctx, opsUser, v.ID, training.Patch{Departments: &legal}); err != nil {
			t.Fatal(err)
		}
		if resp, _ := get(t, pb.MasterURL, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("after narrowing the audience: %d, want 403", resp.StatusCode)
		}
		sales := []string{"Sales"}
		if _, err := f.svc.Update(f.ctx, opsUser, v.ID, training.Patch{Departments: &sales}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a playlist asked for in the credential's last second is refused", func(t *testing.T) {
		// Its segments would have been signed for the store's default 5 minutes.
		pb, err := f.svc.Play(f.ctx, sales, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Set(pb.ExpiresAt.Add(-500 * time.Millisecond))
		resp, master := get(t, pb.MasterURL, nil)
		var variant string
		for _, l := range strings.Split(string(master), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				variant = l
				break
			}
		}
		if resp.StatusCode != http.StatusOK || variant == "" {
			t.Fatalf("master: %d\n%s", resp.StatusCode, master)
		}
		if resp, _ := get(t, strings.Replace(pb.MasterURL, "master.m3u8", variant, 1), nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a rendition playlist with half a second left: %d, want 403", resp.StatusCode)
		}
	})
	t.Run("playback URLs expire", func(t *testing.T) {
		f.clock.Advance(time.Duration(got.DurationMS)*time.Millisecond + 31*time.Minute)
		if resp, _ := get(t, pb.MasterURL, nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("expired playback URL: %d", resp.StatusCode)
		}
	})
	t.Run("a view counts once per user and day", func(t *testing.T) {
		for range 2 {
			if _, err := f.svc.Play(f.ctx, sales, v.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.opsVideo(v.ID).Views; n != 1 {
			t.Fatalf("views = %d, want 1 (same day)", n)
		}
		f.clock.Advance(24 * time.Hour)
		if _, err := f.svc.Play(f.ctx, sales, v.ID); err != nil {
			t.Fatal(err)
		}
		if n := f.opsVideo(v.ID).Views; n != 2 {
			t.Fatalf("views = %d, want 2", n)
		}
	})
	t.Run("unpublishing hides it", func(t *testing.T) {
		off := false
		if _, err := f.svc.Update(f.ctx, opsUser, v.ID, training.Patch{Published: &off}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Video(f.ctx, sales, v.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("err = %v", err)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestCatalogueOrder(t *testing.T) {
	f := newFixture(t)
	src := landscape(t, 2)
	due1 := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	due2 := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	var ids []string
	for _, in := range []training.Input{
		{Title: "optional"},
		{Title: "due later", Required: true, DueAt: &due1},
		{Title: "for directors only", Roles: []string{"approver"}},
		{Title: "due sooner", Required: true, DueAt: &due2},
	} {
		v := f.createVideo(in)
		ids = append(ids, v.ID)
		if _, err := f.upload(v.ID, src); err != nil {
			t.Fatal(err)
		}
	}
	f.process(f.svc)
	list, err := f.svc.Catalogue(f.ctx, sales, "")
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, v := range list {
		titles = append(titles, v.Title)
	}
	if strings.Join(titles, ", ") != "due sooner, due later, optional" {
		t.Fatalf("catalogue = %v", titles)
	}
	_ = ids
}

func TestRestartInTheMiddleOfProcessing(t *testing.T) {
	f := newFixture(t)
	v := f.createVideo(training.Input{})
	in, err := f.upload(v.ID, landscape(t, 8))
	if err != nil {
		t.Fatal(err)
	}
	a := f.service("worker-a")
	ctx, stop := contextWithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := a.RunOne(ctx); done <- err }()
	for deadline := time.Now().Add(2 * time.Minute); f.opsVideo(v.ID).Status != training.StatusProcessing; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("worker A returned (%v) before the video showed processing: %+v", err, f.opsVideo(v.ID))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the video never showed processing: %+v", f.opsVideo(v.ID))
		}
	}
	stop() // instance A shuts down mid-transcode
	if err := <-done; err == nil {
		t.Fatal("worker A finished although it was stopped")
	}
	if got := f.opsVideo(v.ID); got.Status == training.StatusReady {
		t.Fatalf("ready after the stop: %+v", got)
	}
	b := f.service("worker-b")
	f.process(b)
	got := f.opsVideo(v.ID)
	if got.Status != training.StatusReady {
		t.Fatalf("after restart: %+v", got)
	}
	// Done once: exactly one set of outputs, under the job's prefix.
	all := f.objects(media.Videos, "training/"+v.ID+"/")
	mine := f.objects(media.Videos, "training/"+v.ID+"/"+in.ID+"/")
	if len(all) == 0 || len(all) != len(mine) {
		t.Fatalf("objects: %v", all)
	}
	if ran, err := b.RunOne(f.ctx); ran || err != nil {
		t.Fatalf("a finished job ran again: %v %v", ran, err)
	}
}

func TestReplaceKeepsTheOldVersionPlayable(t *testing.T) {
	f := newFixture(t)
	v := f.createVideo(training.Input{})
	first, err := f.upload(v.ID, landscape(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	f.process(f.svc)
	oldPlay, err := f.svc.Play(f.ctx, sales, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	portrait := clip(t, "portrait.mp4", "-f", "lavfi", "-i", "testsrc2=size=720x1280:rate=25", "-t", "3",
		"-c:v", "libx264", "-preset", "ultrafast")
	second, err := f.upload(v.ID, portrait)
	if err != nil {
		t.Fatal(err)
	}
	got := f.opsVideo(v.ID)
	if got.Status != training.StatusUploaded || !got.Playable {
		t.Fatalf("while the replacement waits: %+v", got)
	}
	if _, err := f.svc.Play(f.ctx, sales, v.ID); err != nil {
		t.Fatalf("play while the replacement waits: %v", err)
	}
	f.process(f.svc)
	if got := f.opsVideo(v.ID); got.Status != training.StatusReady || got.DurationMS < 2900 {
		t.Fatalf("after replacing: %+v", got)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", oldPlay.MasterURL, "-f", "null", "-").CombinedOutput(); err != nil {
		t.Fatalf("an old playback stopped working at once: %v %s", err, out)
	}
	if len(f.objects(media.Videos, "training/"+v.ID+"/"+first.ID+"/")) == 0 {
		t.Fatal("the old version's objects were deleted while it may still play")
	}
	f.clock.Advance(media.MaxPlaybackExpiry + time.Minute)
	if err := f.svc.CollectGarbage(f.ctx); err != nil {
		t.Fatal(err)
	}
	if left := f.objects(media.Videos, "training/"+v.ID+"/"+first.ID+"/"); len(left) != 0 {
		t.Fatalf("old version's objects left: %v", left)
	}
	if left := f.objects(media.Uploads, first.Key); len(left) != 0 {
		t.Fatalf("old source left: %v", left)
	}
	t.Run("delete removes every object", func(t *testing.T) {
		if err := f.svc.Delete(f.ctx, opsUser, v.ID); err != nil {
			t.Fatal(err)
		}
		if left := f.objects(media.Videos, "training/"+v.ID+"/"); len(left) != 0 {
			t.Fatalf("objects left: %v", left)
		}
		if left := f.objects(media.Uploads, second.Key); len(left) != 0 {
			t.Fatalf("source left: %v", left)
		}
		if _, err := f.svc.Get(f.ctx, opsUser, v.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("get after delete: %v", err)
		}
	})
}

// TestOutputsOfADeadWorkerAreDeleted: a worker that died while storing a job's outputs
// recorded none of their keys. When that upload is replaced, or the video deleted, every
// object below the job's folder still goes.
func TestOutputsOfADeadWorkerAreDeleted(t *testing.T) {
	f := newFixture(t)
	v := f.createVideo(training.Input{})
	file := landscape(t, 1)
	strays := func(jobID string) string {
		folder := "training/" + v.ID + "/" + jobID + "/"
		for _, name := range []string{"720p/seg_000.ts", "720p/index.m3u8", "poster.jpg"} {
			if _, err := f.store.Put(f.ctx, media.Videos, folder+name, strings.NewReader("x"), 1, ""); err != nil {
				t.Fatal(err)
			}
		}
		return folder
	}
	first, err := f.upload(v.ID, file)
	if err != nil {
		t.Fatal(err)
	}
	firstFolder := strays(first.ID) // as a worker killed mid-upload of the outputs leaves them
	second, err := f.upload(v.ID, file)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CollectGarbage(f.ctx); err != nil {
		t.Fatal(err)
	}
	if left := f.objects(media.Videos, firstFolder); len(left) != 0 {
		t.Fatalf("the replaced upload's outputs are left: %v", left)
	}
	f.process(f.svc)
	if got := f.opsVideo(v.ID); got.Status != training.StatusReady {
		t.Fatalf("after processing: %+v", got)
	}
	all, mine := f.objects(media.Videos, "training/"+v.ID+"/"), f.objects(media.Videos, "training/"+v.ID+"/"+second.ID+"/")
	if len(mine) == 0 || len(all) != len(mine) {
		t.Fatalf("objects besides the current version's: %v", all)
	}

	third, err := f.upload(v.ID, file)
	if err != nil {
		t.Fatal(err)
	}
	strays(third.ID)
	if err := f.svc.Delete(f.ctx, opsUser, v.ID); err != nil {
		t.Fatal(err)
	}
	if left := f.objects(media.Videos, "training/"+v.ID+"/"); len(left) != 0 {
		t.Fatalf("objects left after deleting the video: %v", left)
	}
}

func TestFailedProcessingCanBeRetried(t *testing.T) {
	f := newFixture(t)
	v := f.createVideo(training.Input{})
	src := landscape(t, 2)
	in, err := f.upload(v.ID, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Delete(f.ctx, in.Bucket, in.Key); err != nil { // the source is lost
		t.Fatal(err)
	}
	for range 3 {
		_, _ = f.svc.RunOne(f.ctx)       // fails: the source is missing
		f.clock.Advance(3 * time.Minute) // the next attempt waits a while
	}
	got := f.opsVideo(v.ID)
	if got.Status != training.StatusFailed || got.Failure == "" {
		t.Fatalf("after three failures: %+v", got)
	}
	if _, err := f.svc.Retry(f.ctx, opsUser, v.ID); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(src)
	if _, err := f.store.Put(f.ctx, in.Bucket, in.Key, bytes.NewReader(b), int64(len(b)), "video/mp4"); err != nil {
		t.Fatal(err)
	}
	f.process(f.svc)
	if got := f.opsVideo(v.ID); got.Status != training.StatusReady {
		t.Fatalf("after retry: %+v", got)
	}
	if _, err := f.svc.Retry(f.ctx, opsUser, v.ID); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("retry of a ready video: %v", err)
	}
}

func TestWorkersRaceForOneJob(t *testing.T) {
	f := newFixture(t)
	v := f.createVideo(training.Input{})
	in, err := f.upload(v.ID, landscape(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	const workers = 4
	ran := make(chan bool, workers)
	errs := make(chan error, workers)
	for i := range workers {
		svc := f.service("racer-" + string(rune('a'+i)))
		go func() {
			r, err := svc.RunOne(f.ctx)
			ran <- r
			errs <- err
		}()
	}
	n := 0
	for range workers {
		if <-ran {
			n++
		}
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n != 1 {
		t.Fatalf("%d workers ran the job, want exactly 1", n)
	}
	if got := f.opsVideo(v.ID); got.Status != training.StatusReady {
		t.Fatalf("after the race: %+v", got)
	}
	if all, mine := f.objects(media.Videos, "training/"), f.objects(media.Videos, "training/"+v.ID+"/"+in.ID+"/"); len(all) != len(mine) {
		t.Fatalf("objects: %v", all)
	}
}

func TestCrashedWorkersLeaseRunsOut(t *testing.T) {
	f := newFixture(t)
	v := f.createVideo(training.Input{})
	in, err := f.upload(v.ID, landscape(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	// A worker took the job and died without releasing its lease.
	if _, err := f.db.Collection("training_leases").InsertOne(f.ctx, map[string]any{
		"_id": in.ID + ":1", "holder": "crashed", "expires_at": f.clock.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if ran, err := f.svc.RunOne(f.ctx); ran || err != nil {
		t.Fatalf("took a job under a live lease: %v %v", ran, err)
	}
	f.clock.Advance(2 * time.Minute)
	if ran, err := f.svc.RunOne(f.ctx); !ran || err != nil {
		t.Fatalf("did not take over the expired lease: %v %v", ran, err)
	}
	if got := f.opsVideo(v.ID); got.Status != training.StatusReady {
		t.Fatalf("after the takeover: %+v", got)
	}
}

// A failure that is not the file's (storage or the database erring three times) is told to ops
// in our words: the error's own text, a driver's, went into the video's failure.
func TestAFailureOfStorageIsToldInOurWords(t *testing.T) {
	f := newFixture(t)
	v := f.createVideo(training.Input{})
	if _, err := f.upload(v.ID, landscape(t, 2)); err != nil {
		t.Fatal(err)
	}
	worker := f.service("worker-b")
	worker.Store = rawErrorStore{f.store}
	for range 3 {
		_, _ = worker.RunOne(f.ctx)
		f.clock.Advance(3 * time.Minute) // the next attempt waits a while
	}
	got := f.opsVideo(v.ID)
	if got.Status != training.StatusFailed || strings.Contains(got.Failure, "10.0.0.9") || !strings.Contains(got.Failure, "retry") {
		t.Fatalf("after three failures of storage: status %s, failure %q", got.Status, got.Failure)
	}
}

// rawErrorStore fails every read with an error text of a client library's own.
type rawErrorStore struct{ training.Store }

func (rawErrorStore) ReaderAt(context.Context, media.Bucket, string) (io.ReaderAt, int64, error) {
	return nil, 0, errors.New("Get \"http://10.0.0.9:9000/uploads/x\": dial tcp 10.0.0.9:9000: i/o timeout")
}

func (rawErrorStore) Open(context.Context, media.Bucket, string, int64, int64) (io.ReadCloser, error) {
	return nil, errors.New("Get \"http://10.0.0.9:9000/uploads/x\": dial tcp 10.0.0.9:9000: i/o timeout")
}

// TestCompletingAnUploadSurvivesWorkersAndFailures: a worker polling while an upload is being
// completed does not take its job, and a completion that failed halfway, called again (as the
// upload service does), makes the upload the video's content. Before, the job was queued before
// the video pointed at it: the worker superseded it and deleted its file, or the second call
// found the job and stopped; either way the video stayed "uploaded" for good.
func TestCompletingAnUploadSurvivesWorkersAndFailures(t *testing.T) {
	f := newFixture(t)
	t.Run("a worker polling between the steps runs nothing", func(t *testing.T) {
		v := f.createVideo(training.Input{})
		f.svc.SetCompleteStepForTest(func(step string) error {
			if ran, err := f.svc.RunOne(f.ctx); ran || err != nil {
				t.Errorf("after %s a worker ran a job (%v)", step, err)
			}
			return nil
		})
		defer f.svc.SetCompleteStepForTest(nil)
		if _, err := f.upload(v.ID, landscape(t, 2)); err != nil {
			t.Fatal(err)
		}
		f.svc.SetCompleteStepForTest(nil)
		f.process(f.svc)
		if got := f.opsVideo(v.ID); got.Status != training.StatusReady {
			t.Fatalf("after processing: %+v", got)
		}
	})
	for _, step := range []string{"inserted", "pointed"} {
		t.Run("a completion that failed after "+step+" is finished by the next call", func(t *testing.T) {
			v := f.createVideo(training.Input{})
			f.svc.SetCompleteStepForTest(func(s string) error {
				if s == step {
					return errors.New("the database went away")
				}
				return nil
			})
			in, err := f.upload(v.ID, landscape(t, 2))
			f.svc.SetCompleteStepForTest(nil)
			if err == nil {
				t.Fatal("the failing step did not fail the completion")
			}
			if err := f.svc.CompleteUpload(f.ctx, opsUser, in); err != nil {
				t.Fatal(err)
			}
			f.process(f.svc)
			if got := f.opsVideo(v.ID); got.Status != training.StatusReady {
				t.Fatalf("after the second call and processing: %+v", got)
			}
		})
	}
}
