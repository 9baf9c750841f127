package training

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media/video"
)

// A worker's progress read the video before a replacement upload (on another replica, or on
// MongoDB, where DB.Lock does nothing) changed its job: its write must not put the old job
// back. It did, and the new upload's job then found itself superseded and was dropped.
func TestProgressReadBeforeAReplacementKeepsTheReplacement(t *testing.T) {
	ctx := context.Background()
	s := &Service{DB: testenv.Mongo(t)}
	if _, err := s.coll(videosColl).InsertOne(ctx, videoDoc{ID: "v1", Job: "A", Status: StatusProcessing}); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := s.modify(ctx, "v1", func(d *videoDoc) (bson.D, error) {
		if runs++; runs == 1 { // the replacement lands between the read and the write
			if _, err := s.coll(videosColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: "v1"}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "job", Value: "B"}, {Key: "status", Value: StatusUploaded}}}}); err != nil {
				t.Fatal(err)
			}
		}
		if d.Job != "A" { // what setProgress does
			return nil, errSuperseded
		}
		d.Status, d.Percent = StatusProcessing, 50
		return d.processing(), nil
	})
	if !errors.Is(err, errSuperseded) {
		t.Fatalf("the stale progress write: %v, want errSuperseded", err)
	}
	d, err := s.video(ctx, "v1")
	if err != nil || d.Job != "B" || d.Status != StatusUploaded {
		t.Fatalf("stored %+v, %v; want the replacement's job B, uploaded", d, err)
	}
	t.Run("a video without a job yet is written", func(t *testing.T) {
		if _, err := s.coll(videosColl).InsertOne(ctx, videoDoc{ID: "v2", Status: StatusUploaded}); err != nil {
			t.Fatal(err)
		}
		if err := s.modify(ctx, "v2", func(d *videoDoc) (bson.D, error) {
			d.Job, d.Status = "C", StatusUploaded
			return d.processing(), nil
		}); err != nil {
			t.Fatal(err)
		}
		if d, err := s.video(ctx, "v2"); err != nil || d.Job != "C" {
			t.Fatalf("stored %+v, %v", d, err)
		}
	})
}

// TestFFmpegFailuresArePermanentAtEveryStep: ffmpeg refusing the file while writing the offline
// MP4 is the file's fault like one while writing the ladder. Before, a message pattern missed
// the "offline MP4: " prefix: the job ran three times and its reason blamed storage.
func TestFFmpegFailuresArePermanentAtEveryStep(t *testing.T) {
	fe := &video.FFmpegError{Err: errors.New("exit status 1"), Detail: "moov atom not found"}
	for _, err := range []error{fe, fmt.Errorf("offline MP4: %w", fe), fmt.Errorf("transcode: %w", fmt.Errorf("offline MP4: %w", fe))} {
		if !isFFmpegFailure(err) {
			t.Errorf("%v: not an ffmpeg failure", err)
		}
		if r := failureReason(err, nil); !strings.Contains(r, "moov atom not found") {
			t.Errorf("%v: reason %q", err, r)
		}
	}
	if isFFmpegFailure(errors.New("ffmpeg: looks like one but is a storage error")) {
		t.Error("a message is not an ffmpeg failure")
	}
}

// A job that failed for a reason not its own waits before its next attempt. Before, the next
// attempts followed within milliseconds, and a MinIO restart of a few seconds used up all three
// and failed the video for good.
func TestAJobRetriesAfterADelay(t *testing.T) {
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := &Service{DB: testenv.Mongo(t), Now: clock.Now, PlaybackKey: make([]byte, 32)}
	failed := clock.Now()
	j := jobDoc{ID: "up1", VideoID: "v-gone", State: jobQueued, Attempts: 1, FailedAt: &failed, CreatedAt: clock.Now(), UpdatedAt: clock.Now()}
	if _, err := s.coll(jobsColl).InsertOne(ctx, j); err != nil {
		t.Fatal(err)
	}
	if ran, err := s.RunOne(ctx); ran || err != nil {
		t.Fatalf("run at once after a failed attempt: ran %v, %v", ran, err)
	}
	clock.Advance(retryDelay(1) + time.Second)
	if ran, _ := s.RunOne(ctx); !ran {
		t.Fatal("not run after the delay")
	}
}
