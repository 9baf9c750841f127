package main

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mportal/mportal/internal/loadtest"
	"github.com/mportal/mportal/media/video"
)

// BenchmarkUpdateCheckDuringTranscode loads the update check (as BenchmarkUpdateCheck) idle,
// then while a 60-second 720p clip is transcoded to every training output with the worker's
// settings (one ffmpeg, niced) on the same machine, and reports both p99s: transcoding must not
// starve the API. Run it alone with a fixed count, so the loaded run fits in the transcode:
// go test -run '^$' -bench UpdateCheckDuringTranscode -benchtime 3000x ./cmd/mportal
func BenchmarkUpdateCheckDuringTranscode(b *testing.B) {
	base, token := updateBenchStart(b)
	cfg := loadtest.Config{URL: base + "/v1/apps/bench/update?platform=android&build=90&locale=en",
		Headers: http.Header{"Authorization": {"Bearer " + token}}, Concurrency: benchConcurrency}
	src := filepath.Join(b.TempDir(), "60s.mp4")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440", "-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
		src).CombinedOutput(); err != nil {
		b.Fatalf("generate clip: %v\n%s", err, out)
	}
	info, err := video.Probe(context.Background(), src, video.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("idle", func(b *testing.B) { benchLoad(b, cfg, 0) })
	b.Run("transcoding", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		progress := make(chan struct{}, 1)
		go func() {
			_, err := video.Transcode(ctx, src, b.TempDir(), info, video.Options{Progress: func(int) {
				select {
				case progress <- struct{}{}:
				default:
				}
			}})
			done <- err
		}()
		<-progress // ffmpeg is encoding
		benchLoad(b, cfg, 0)
		select {
		case err := <-done:
			b.Fatalf("the transcode ended before the load did (%v): lower -benchtime", err)
		default:
		}
		cancel()
		<-done
	})
}
