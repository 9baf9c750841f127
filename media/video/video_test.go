package video_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/media/video"
)

// clip generates a test video with ffmpeg's lavfi sources into dir and returns its path.
func clip(t *testing.T, name string, args ...string) string { return clipB(t, name, args...) }

func clipB(t testing.TB, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	full := append([]string{"-hide_banner", "-v", "error", "-y"}, args...)
	if b, err := exec.Command("ffmpeg", append(full, out)...).CombinedOutput(); err != nil {
		t.Fatalf("generate %s: %v\n%s", name, err, b)
	}
	return out
}

// Landscape720 is a 720p clip with a 440 Hz mono tone, of the given seconds.
func landscape720(t *testing.T, secs int) string {
	return clip(t, "landscape.mp4", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", strconv.Itoa(secs),
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-ac", "1")
}

func probeJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	b, err := exec.Command("ffprobe", append([]string{"-v", "error", "-print_format", "json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ffprobe %v: %v", args, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// keyframeTimes returns the presentation times of the video keyframes of file.
func keyframeTimes(t *testing.T, file string) []float64 {
	t.Helper()
	m := probeJSON(t, "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries", "frame=pts_time", file)
	var out []float64
	for _, f := range m["frames"].([]any) {
		v, _ := strconv.ParseFloat(f.(map[string]any)["pts_time"].(string), 64)
		out = append(out, v)
	}
	return out
}

func streams(t *testing.T, file string) []map[string]any {
	var out []map[string]any
	for _, s := range probeJSON(t, "-show_streams", file)["streams"].([]any) {
		out = append(out, s.(map[string]any))
	}
	return out
}

func TestProbe(t *testing.T) {
	ctx := context.Background()
	t.Run("reads a 720p clip with audio", func(t *testing.T) {
		info, err := video.Probe(ctx, landscape720(t, 3), video.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Width != 1280 || info.Height != 720 || info.VideoCodec != "h264" || info.AudioCodec != "aac" ||
			info.Duration < 2900*time.Millisecond || info.Duration > 3200*time.Millisecond || info.FrameRate != 30 {
			t.Fatalf("info = %+v", info)
		}
	})
	text := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(text, bytes.Repeat([]byte("not a video\n"), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	good := landscape720(t, 3)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(t.TempDir(), "corrupt.mp4")
	if err := os.WriteFile(corrupt, append(b[:64:64], bytes.Repeat([]byte{0x5a}, 4096)...), 0o600); err != nil {
		t.Fatal(err)
	}
	still := clip(t, "still.png", "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1")
	for _, tc := range []struct {
		name, file string
		limits     video.Limits
		want       string
	}{
		{"refuses a text file", text, video.Limits{}, "format"},
		{"refuses a corrupt file", corrupt, video.Limits{}, "not a video"},
		{"refuses a still image", still, video.Limits{}, "format"},
		{"refuses a video longer than the limit", good, video.Limits{MaxDuration: 2 * time.Second}, "longer than the limit of 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := video.Probe(ctx, tc.file, tc.limits)
			var ae *apperr.Error
			if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), tc.want) || !asErr(err, &ae) || ae.Field != "file" {
				t.Fatalf("err = %v, want invalid (file) saying %q", err, tc.want)
			}
		})
	}
}

func asErr(err error, ae **apperr.Error) bool {
	e, ok := err.(*apperr.Error)
	*ae = e
	return ok
}

func TestLadder(t *testing.T) {
	for _, tc := range []struct {
		name string
		info video.Info
		want []string
	}{
		{"720p gets 360p and 720p", video.Info{Width: 1280, Height: 720}, []string{"640x360", "1280x720"}},
		{"1080p adds 1080p", video.Info{Width: 1920, Height: 1080}, []string{"640x360", "1280x720", "1920x1080"}},
		{"portrait keeps its orientation", video.Info{Width: 720, Height: 1280}, []string{"360x640", "720x1280"}},
		{"a small source is never upscaled", video.Info{Width: 320, Height: 240}, []string{"320x240"}},
		{"a 540p source stops at 360p", video.Info{Width: 960, Height: 540}, []string{"640x360"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range video.Ladder(tc.info) {
				got = append(got, strconv.Itoa(r.Width)+"x"+strconv.Itoa(r.Height))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ladder = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("bit rates are capped near the source's", func(t *testing.T) {
		l := video.Ladder(video.Info{Width: 1280, Height: 720, BitRate: 1_000_000})
		if l[0].VideoBitRate != 800_000 || l[1].VideoBitRate != 1_200_000 {
			t.Fatalf("bit rates = %d, %d", l[0].VideoBitRate, l[1].VideoBitRate)
		}
	})
}
