package video_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/mportal/mportal/media/video"
)

// BenchmarkTranscode720p60s measures the wall time of a 60-second 720p clip (with audio) to
// every output (360p and 720p HLS, poster, offline MP4) with the production settings (veryfast,
// niced). Run it alone: go test -run '^$' -bench Transcode720p60s -benchtime 1x ./media/video
func BenchmarkTranscode720p60s(b *testing.B) {
	src := clipB(b, "60s.mp4", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440", "-t", "60", "-c:v", "libx264", "-preset", "ultrafast",
		"-b:v", "3M", "-c:a", "aac")
	ctx := context.Background()
	info, err := video.Probe(ctx, src, video.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	before := childCPU(b)
	b.ResetTimer()
	for range b.N {
		if _, err := video.Transcode(ctx, src, b.TempDir(), info, video.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(info.Duration.Seconds()*float64(b.N)/b.Elapsed().Seconds(), "x-realtime")
	// ffmpeg's own CPU time: on a shared machine the wall time says more about the neighbours.
	b.ReportMetric((childCPU(b)-before).Seconds()/float64(b.N), "ffmpeg-cpu-s/op")
}

// childCPU returns the user and system CPU time of the finished child processes.
func childCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
