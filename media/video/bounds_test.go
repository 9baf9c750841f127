package video_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/media/video"
)

// An upload that is an HLS playlist is refused without being opened: ffprobe's HLS demuxer
// fetched the URLs the playlist lists (any host the server reaches) before the format was
// refused.
func TestAPlaylistIsRefusedWithoutFetchingWhatItLists(t *testing.T) {
	var fetched atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fetched.Add(1) }))
	defer srv.Close()
	// Served over http, as the training service serves an upload to ffprobe.
	body := fmt.Sprintf("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n%s/seg0.ts\n#EXT-X-ENDLIST\n", srv.URL)
	source := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(body))
	}))
	defer source.Close()
	_, err := video.Probe(context.Background(), source.URL+"/source", video.Limits{})
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("probe of a playlist: %v, want invalid", err)
	}
	if n := fetched.Load(); n != 0 {
		t.Fatalf("probing the upload fetched %d URLs it listed", n)
	}
}

// The transcoder reads a source no longer than its probed duration (and a little): a container
// declaring a minute that holds hours kept it busy for hours.
func TestTranscodeStopsAtTheProbedDuration(t *testing.T) {
	src := landscape720(t, 6)
	ctx := context.Background()
	info, err := video.Probe(ctx, src, video.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	info.Duration = time.Second // as a lying container would declare
	dir := t.TempDir()
	if _, err := video.Transcode(ctx, src, dir, info, video.Options{Preset: "ultrafast"}); err != nil {
		t.Fatal(err)
	}
	out := probeJSON(t, "-show_format", filepath.Join(dir, video.OfflineFile))
	secs, _ := strconv.ParseFloat(out["format"].(map[string]any)["duration"].(string), 64)
	if secs > 3.5 {
		t.Fatalf("the output lasts %.1f s of a source probed at 1 s", secs)
	}
}
