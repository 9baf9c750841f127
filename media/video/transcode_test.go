package video_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mportal/mportal/media/video"
)

// transcode probes and transcodes src into a fresh directory with the cheapest preset.
func transcode(t *testing.T, src string) (string, video.Info, video.Result, []int) {
	t.Helper()
	ctx := context.Background()
	info, err := video.Probe(ctx, src, video.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var progress []int
	res, err := video.Transcode(ctx, src, dir, info, video.Options{Preset: "ultrafast",
		Progress: func(p int) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	return dir, info, res, progress
}

var streamInf = regexp.MustCompile(`#EXT-X-STREAM-INF:BANDWIDTH=(\d+),RESOLUTION=(\d+x\d+),CODECS="([^"]+)"\n([^\n]+)`)

func TestTranscode720pWithAudio(t *testing.T) {
	dir, info, res, progress := transcode(t, landscape720(t, 6))
	if len(res.Renditions) != 2 {
		t.Fatalf("renditions = %+v", res.Renditions)
	}
	if len(progress) == 0 || progress[len(progress)-1] < 50 {
		t.Errorf("progress reports = %v, want some reaching past 50%%", progress)
	}
	master, err := os.ReadFile(filepath.Join(dir, video.MasterPlaylist))
	if err != nil {
		t.Fatal(err)
	}
	m := streamInf.FindAllStringSubmatch(string(master), -1)
	if len(m) != 2 || m[0][2] != "640x360" || m[1][2] != "1280x720" ||
		!strings.HasPrefix(m[0][3], "avc1.") || !strings.Contains(m[0][3], "mp4a.40.2") || m[0][4] != "360p/index.m3u8" {
		t.Fatalf("master playlist:\n%s", master)
	}
	for i, r := range res.Renditions {
		t.Run(r.Name+" rendition", func(t *testing.T) {
			variant, err := os.ReadFile(filepath.Join(dir, r.Name, video.VariantPlaylist))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(variant), "#EXT-X-TARGETDURATION:4\n") || !strings.Contains(string(variant), "#EXT-X-ENDLIST") {
				t.Errorf("variant playlist:\n%s", variant)
			}
			segs := regexp.MustCompile(`#EXTINF:([0-9.]+),\n(seg_\d+\.ts)`).FindAllStringSubmatch(string(variant), -1)
			total := 0.0
			for j, s := range segs {
				d, _ := strconv.ParseFloat(s[1], 64)
				total += d
				if j < len(segs)-1 && math.Abs(d-4) > 0.05 {
					t.Errorf("segment %s lasts %gs, want 4s", s[2], d)
				}
			}
			if math.Abs(total-info.Duration.Seconds()) > 0.2 {
				t.Errorf("segments add up to %gs, source lasts %s", total, info.Duration)
			}
			// Concatenated segments are the rendition: check its streams and keyframes.
			var all bytes.Buffer
			for _, s := range segs {
				b, err := os.ReadFile(filepath.Join(dir, r.Name, s[2]))
				if err != nil {
					t.Fatal(err)
				}
				all.Write(b)
			}
			ts := filepath.Join(t.TempDir(), "all.ts")
			if err := os.WriteFile(ts, all.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			checkStreams(t, ts, r.Width, r.Height, true)
			checkKeyframes(t, ts, info.Duration.Seconds())
			bw, _ := strconv.Atoi(m[i][1])
			if int64(bw) < r.VideoBitRate {
				t.Errorf("BANDWIDTH %d below the video bit rate %d", bw, r.VideoBitRate)
			}
		})
	}
	t.Run("poster is the largest rendition's size", func(t *testing.T) {
		st := streams(t, filepath.Join(dir, video.PosterFile))
		if st[0]["codec_name"] != "mjpeg" || st[0]["width"] != 1280.0 || st[0]["height"] != 720.0 {
			t.Fatalf("poster stream = %v", st[0])
		}
	})
	t.Run("offline MP4 is 360p with its index first", func(t *testing.T) {
		file := filepath.Join(dir, video.OfflineFile)
		checkStreams(t, file, 640, 360, true)
		checkKeyframes(t, file, info.Duration.Seconds())
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		moov, mdat := bytes.Index(b, []byte("moov")), bytes.Index(b, []byte("mdat"))
		if moov < 0 || mdat < 0 || moov > mdat {
			t.Fatalf("moov at %d, mdat at %d: not faststart", moov, mdat)
		}
		d := probeJSON(t, "-show_format", file)["format"].(map[string]any)["duration"].(string)
		if secs, _ := strconv.ParseFloat(d, 64); math.Abs(secs-info.Duration.Seconds()) > 0.2 {
			t.Errorf("offline MP4 lasts %ss, source %s", d, info.Duration)
		}
	})
}

func TestTranscodePortrait1080pWithoutAudio(t *testing.T) {
	src := clip(t, "portrait.mp4", "-f", "lavfi", "-i", "testsrc2=size=1080x1920:rate=24", "-t", "3",
		"-c:v", "libx264", "-preset", "ultrafast")
	dir, _, res, _ := transcode(t, src)
	var sizes []string
	for _, r := range res.Renditions {
		sizes = append(sizes, strconv.Itoa(r.Width)+"x"+strconv.Itoa(r.Height))
		checkStreams(t, filepath.Join(dir, r.Name, "seg_000.ts"), r.Width, r.Height, false)
	}
	if strings.Join(sizes, " ") != "360x640 720x1280 1080x1920" {
		t.Fatalf("renditions = %v", sizes)
	}
	master, err := os.ReadFile(filepath.Join(dir, video.MasterPlaylist))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(master), "mp4a") || len(streamInf.FindAllString(string(master), -1)) != 3 {
		t.Fatalf("master playlist:\n%s", master)
	}
	checkStreams(t, filepath.Join(dir, video.OfflineFile), 360, 640, false)
}

// checkStreams checks file has one H.264 video stream of w x h and, when audio is wanted, one
// stereo AAC stream, or none.
func checkStreams(t *testing.T, file string, w, h int, audio bool) {
	t.Helper()
	var v, a int
	for _, s := range streams(t, file) {
		switch s["codec_type"] {
		case "video":
			v++
			if s["codec_name"] != "h264" || s["width"] != float64(w) || s["height"] != float64(h) || s["pix_fmt"] != "yuv420p" {
				t.Errorf("%s: video stream %v %vx%v %v, want h264 %dx%d yuv420p", filepath.Base(file), s["codec_name"], s["width"], s["height"], s["pix_fmt"], w, h)
			}
		case "audio":
			a++
			if s["codec_name"] != "aac" || s["channels"] != 2.0 || s["channel_layout"] != "stereo" {
				t.Errorf("%s: audio stream %v %v channels %v, want stereo aac", filepath.Base(file), s["codec_name"], s["channels"], s["channel_layout"])
			}
		}
	}
	if v != 1 || (a == 1) != audio || a > 1 {
		t.Errorf("%s: %d video and %d audio streams", filepath.Base(file), v, a)
	}
}

// checkKeyframes checks there is a keyframe every KeyframeInterval from the start.
func checkKeyframes(t *testing.T, file string, duration float64) {
	t.Helper()
	times := keyframeTimes(t, file)
	want := int(math.Ceil(duration / video.KeyframeInterval.Seconds()))
	if len(times) != want {
		t.Fatalf("%s: keyframes at %v, want %d", filepath.Base(file), times, want)
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i] - times[i-1]; math.Abs(gap-video.KeyframeInterval.Seconds()) > 0.05 {
			t.Errorf("%s: keyframes %gs apart at %gs, want %s", filepath.Base(file), gap, times[i], video.KeyframeInterval)
		}
	}
}

// TestTranscodeFailureIsFFmpegError: ffmpeg refusing the input is a *video.FFmpegError with its
// last line, which callers treat as the file's fault (not retried, shown to ops).
func TestTranscodeFailureIsFFmpegError(t *testing.T) {
	src := filepath.Join(t.TempDir(), "broken.mp4")
	if err := os.WriteFile(src, []byte("not a video at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	info := video.Info{Width: 640, Height: 360, Duration: 2e9, FrameRate: 25}
	_, err := video.Transcode(context.Background(), src, t.TempDir(), info, video.Options{Preset: "ultrafast"})
	var fe *video.FFmpegError
	if !errors.As(err, &fe) || fe.Detail == "" || !strings.HasPrefix(err.Error(), "ffmpeg: ") {
		t.Fatalf("err = %v (%T), want a *video.FFmpegError with ffmpeg's line", err, err)
	}
}
