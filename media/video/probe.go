// Package video runs ffprobe and ffmpeg for training videos: it checks that an uploaded file
// is a video mportal can process (Probe) and turns it into an HLS ladder, a poster image and an
// offline MP4 (Transcode). It knows nothing about MongoDB or buckets; internal/training moves
// files between MinIO and the local disk and calls it.
package video

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

// DefaultMaxDuration is the longest video accepted when Limits.MaxDuration is zero.
const DefaultMaxDuration = 15 * time.Minute

// Containers are the ffprobe format names accepted (ffprobe reports a demuxer's list of
// aliases, "mov,mp4,m4a,3gp,3g2,mj2"; one match is enough): what phones and cameras record and
// what ops export from editors.
var Containers = []string{"mov", "mp4", "matroska", "webm", "avi"}

// demuxers are the ffmpeg demuxers of Containers, the only ones ffprobe and ffmpeg may open an
// upload with (-format_whitelist): a file detected as anything else (an HLS playlist, say,
// whose demuxer fetches the URLs it lists, from wherever they point) is refused before it is
// opened, rather than after ffprobe has read it.
const demuxers = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi"

// VideoCodecs and AudioCodecs are the accepted codecs of the first video and audio stream.
var (
	VideoCodecs = []string{"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"}
	AudioCodecs = []string{"aac", "mp3", "opus", "vorbis", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_f32le"}
)

// Limits bound what Probe accepts.
type Limits struct {
	// MaxDuration is the longest accepted video; zero means DefaultMaxDuration.
	MaxDuration time.Duration
}

// Info is what Probe learned about a video file.
type Info struct {
	Container  string        // the demuxer's names, as ffprobe reports them
	Duration   time.Duration // of the whole file
	Width      int           // as displayed: rotation applied
	Height     int
	FrameRate  float64 // average frames per second
	VideoCodec string
	// BitRate is the video stream's bit rate, or the file's when the stream has none; 0 when
	// unknown.
	BitRate int64
	// AudioCodec is empty when the file has no audio stream.
	AudioCodec    string
	AudioChannels int
}

// HasAudio reports whether the file has an audio stream.
func (i Info) HasAudio() bool { return i.AudioCodec != "" }

type probeOutput struct {
	Streams []struct {
		CodecType    string            `json:"codec_type"`
		CodecName    string            `json:"codec_name"`
		Width        int               `json:"width"`
		Height       int               `json:"height"`
		AvgFrameRate string            `json:"avg_frame_rate"`
		BitRate      string            `json:"bit_rate"`
		Channels     int               `json:"channels"`
		Disposition  map[string]int    `json:"disposition"`
		Tags         map[string]string `json:"tags"`
		SideData     []struct {
			Rotation float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

// Probe runs ffprobe on input (a local path or an http(s) URL) and checks that it is a video
// mportal can process: a known container, a real video stream (not a still image) in a known
// codec, audio (if any) in a known codec, and a duration within limits. A file that is none of
// these is refused with code invalid, field "file", and a message that says why; a missing or
// failing ffprobe binary is an internal error.
func Probe(ctx context.Context, input string, limits Limits) (Info, error) {
	maxDuration := limits.MaxDuration
	if maxDuration <= 0 {
		maxDuration = DefaultMaxDuration
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-print_format", "json",
		"-show_format", "-show_streams", "-format_whitelist", demuxers, input)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && ctx.Err() == nil {
			return Info{}, refuse(fmt.Errorf("ffprobe: %w: %s", err, firstLine(stderr.String())),
				"the file is not a video that can be read (corrupt or of an unknown format)")
		}
		return Info{}, fmt.Errorf("run ffprobe: %w", err)
	}
	var out probeOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return Info{}, fmt.Errorf("ffprobe output: %w", err)
	}
	return check(out, maxDuration)
}

// refuse returns the invalid error about the uploaded file, keeping cause for the logs.
func refuse(cause error, format string, args ...any) error {
	return &apperr.Error{Code: apperr.Invalid, Field: "file", Message: fmt.Sprintf(format, args...), Err: cause}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// check turns ffprobe's report into Info, or refuses the file.
func check(out probeOutput, maxDuration time.Duration) (Info, error) {
	info := Info{Container: out.Format.FormatName}
	if !slices.ContainsFunc(strings.Split(info.Container, ","), func(n string) bool { return slices.Contains(Containers, n) }) {
		return Info{}, refuse(nil, "the file's format (%s) is not one of the accepted video containers: %s",
			orUnknown(info.Container), strings.Join(Containers, ", "))
	}
	for _, st := range out.Streams {
		switch {
		case st.CodecType == "video" && info.VideoCodec == "" && st.Disposition["attached_pic"] == 0:
			info.VideoCodec = st.CodecName
			info.Width, info.Height = st.Width, st.Height
			if rotated(st.Tags["rotate"], st.SideData) {
				info.Width, info.Height = info.Height, info.Width
			}
			info.FrameRate = parseRate(st.AvgFrameRate)
			info.BitRate, _ = strconv.ParseInt(st.BitRate, 10, 64)
		case st.CodecType == "audio" && info.AudioCodec == "":
			info.AudioCodec = st.CodecName
			info.AudioChannels = st.Channels
		}
	}
	if info.VideoCodec == "" || info.Width <= 0 || info.Height <= 0 {
		return Info{}, refuse(nil, "the file has no video stream")
	}
	if !slices.Contains(VideoCodecs, info.VideoCodec) {
		return Info{}, refuse(nil, "the video codec %s is not one of the accepted codecs: %s",
			info.VideoCodec, strings.Join(VideoCodecs, ", "))
	}
	if info.AudioCodec != "" && !slices.Contains(AudioCodecs, info.AudioCodec) {
		return Info{}, refuse(nil, "the audio codec %s is not one of the accepted codecs: %s",
			info.AudioCodec, strings.Join(AudioCodecs, ", "))
	}
	seconds, err := strconv.ParseFloat(out.Format.Duration, 64)
	if err != nil || seconds <= 0 || math.IsInf(seconds, 0) {
		return Info{}, refuse(err, "the file has no duration: a still image or a broken video")
	}
	info.Duration = time.Duration(seconds * float64(time.Second))
	if info.Duration > maxDuration {
		return Info{}, refuse(nil, "the video lasts %s, longer than the limit of %s",
			info.Duration.Round(time.Second), maxDuration)
	}
	if info.FrameRate <= 0 || info.FrameRate > 240 {
		info.FrameRate = 30
	}
	if info.BitRate <= 0 {
		info.BitRate, _ = strconv.ParseInt(out.Format.BitRate, 10, 64)
	}
	return info, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// rotated reports whether a phone recorded the video turned by 90 or 270 degrees, so that it is
// displayed with width and height swapped.
func rotated(tag string, side []struct {
	Rotation float64 `json:"rotation"`
}) bool {
	deg, _ := strconv.ParseFloat(tag, 64)
	for _, sd := range side {
		if sd.Rotation != 0 {
			deg = sd.Rotation
		}
	}
	return int(math.Abs(deg))%180 == 90
}

// parseRate parses ffprobe's "30000/1001".
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	if !ok {
		return n
	}
	d, err := strconv.ParseFloat(den, 64)
	if err != nil || d == 0 {
		return 0
	}
	return n / d
}
