package video

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Output file names inside a Transcode directory. Each rendition's playlist and segments are
// in a folder named after it: "720p/index.m3u8", "720p/seg_000.ts".
const (
	MasterPlaylist  = "master.m3u8"
	VariantPlaylist = "index.m3u8"
	PosterFile      = "poster.jpg"
	OfflineFile     = "offline.mp4"
)

// KeyframeInterval is the distance between keyframes in every rendition: aligned keyframes let
// a player switch renditions at any segment boundary.
const KeyframeInterval = 2 * time.Second

// SegmentDuration is the HLS segment length, two keyframe intervals (the last segment is
// shorter).
const SegmentDuration = 4 * time.Second

// Options tunes Transcode.
type Options struct {
	// Preset is the x264 preset; empty means "veryfast", which keeps a small server ahead of
	// real time at 720p.
	Preset string
	// Nice is the scheduling niceness ffmpeg runs with (nice -n), so that transcoding yields
	// the CPU to the API; 0 means 10, a negative value runs ffmpeg without nice.
	Nice int
	// Progress, when set, receives the percentage done (0-99) as ffmpeg reports it, at most
	// once per change.
	Progress func(percent int)
}

// Result describes what Transcode wrote.
type Result struct {
	Renditions []Rendition
	Offline    Rendition
}

// Transcode converts the local file input, described by info (from Probe), into dir: an HLS
// ladder (Ladder) of H.264 and stereo AAC with a keyframe every KeyframeInterval and
// SegmentDuration segments, a master playlist with BANDWIDTH, RESOLUTION and CODECS, a JPEG
// poster the size of the largest rendition, and a progressive MP4 of the smallest rendition
// with its index in front (+faststart) for offline viewing. A source without audio gives
// outputs without audio. dir must exist and be empty. One ffmpeg decodes the source once and
// writes the ladder and the poster; the MP4 is then the smallest rendition's segments remuxed
// (the same encoding, copied: no second encode). It returns ffmpeg's last error line when it
// fails; ctx stops it.
func Transcode(ctx context.Context, input, dir string, info Info, opts Options) (Result, error) {
	res := Result{Renditions: Ladder(info), Offline: Offline(info)}
	if err := run(ctx, opts, outputArgs(input, dir, info, res, opts), info.Duration, opts.Progress); err != nil {
		return Result{}, err
	}
	if err := run(ctx, opts, offlineArgs(dir, info, res), 0, nil); err != nil {
		return Result{}, fmt.Errorf("offline MP4: %w", err)
	}
	return res, nil
}

// durationSlack is how much longer than its probed duration a source is read.
const durationSlack = 2 * time.Second

// outputArgs builds the one ffmpeg command that writes the ladder and the poster: the source is
// decoded once and split into one scaled copy per rendition, plus one frame for the poster.
func outputArgs(input, dir string, info Info, res Result, opts Options) []string {
	preset := opts.Preset
	if preset == "" {
		preset = "veryfast"
	}
	gop := strconv.Itoa(max(1, int(math.Round(info.FrameRate*KeyframeInterval.Seconds()))))
	keyframes := []string{"-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
		"-force_key_frames", fmt.Sprintf("expr:gte(t,n_forced*%g)", KeyframeInterval.Seconds())}
	n := len(res.Renditions)
	var filter strings.Builder
	fmt.Fprintf(&filter, "[0:v]split=%d", n+1)
	for i := range n + 1 {
		fmt.Fprintf(&filter, "[s%d]", i)
	}
	for i, r := range res.Renditions {
		// Bilinear is enough to shrink by 2 or 3 and costs less than the default bicubic; a
		// rendition the source's size passes through scale untouched.
		fmt.Fprintf(&filter, ";[s%d]scale=%d:%d:flags=bilinear,setsar=1,format=yuv420p[v%d]", i, r.Width, r.Height, i)
	}
	// The poster: the frame at min(1 s, half the duration), at the largest rendition's size. The
	// second trim ends the branch after that frame, so split stops feeding it.
	top := res.Renditions[n-1]
	at := min(time.Second, info.Duration/2)
	fmt.Fprintf(&filter, ";[s%d]trim=start=%s,trim=end_frame=1,scale=%d:%d,setsar=1[poster]", n, seconds(at), top.Width, top.Height)
	// -t: no longer than the probed duration (and a little): the container declares it, ffmpeg
	// decodes to the end of the stream, and an upload declaring a minute that held hours would
	// have kept the transcoder busy for hours.
	args := []string{"-format_whitelist", demuxers, "-t", seconds(info.Duration + durationSlack), "-i", input,
		"-filter_complex", filter.String()}

	// The HLS output: one video (and audio) stream per rendition.
	var streamMap []string
	for i, r := range res.Renditions {
		args = append(args, "-map", fmt.Sprintf("[v%d]", i))
		entry := fmt.Sprintf("v:%d", i)
		if info.HasAudio() {
			args = append(args, "-map", "0:a:0")
			entry += fmt.Sprintf(",a:%d", i)
		}
		streamMap = append(streamMap, entry+",name:"+r.Name)
	}
	args = append(args, "-c:v", "libx264", "-preset", preset)
	args = append(args, keyframes...)
	for i, r := range res.Renditions {
		n := strconv.Itoa(i)
		if min(r.Width, r.Height) <= 360 {
			// The smallest rung is a quarter of 720p's pixels: a faster preset costs it little.
			args = append(args, "-preset:v:"+n, fasterPreset(preset))
		}
		args = append(args, "-profile:v:"+n, profile(r), "-b:v:"+n, bits(r.VideoBitRate),
			"-maxrate:v:"+n, bits(r.VideoBitRate*11/10), "-bufsize:v:"+n, bits(r.VideoBitRate*2))
		if info.HasAudio() {
			args = append(args, "-b:a:"+n, bits(r.AudioBitRate))
		}
	}
	if info.HasAudio() {
		args = append(args, "-c:a", "aac", "-ac", "2", "-ar", "48000")
	}
	args = append(args, "-f", "hls", "-hls_time", seconds(SegmentDuration), "-hls_playlist_type", "vod",
		"-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
		"-hls_segment_filename", filepath.Join(dir, "%v", "seg_%03d.ts"),
		"-master_pl_name", MasterPlaylist, "-var_stream_map", strings.Join(streamMap, " "),
		filepath.Join(dir, "%v", VariantPlaylist))

	// The poster.
	return append(args, "-map", "[poster]", "-frames:v", "1", "-q:v", "3", "-update", "1", filepath.Join(dir, PosterFile))
}

// offlineArgs builds the ffmpeg command that writes the offline MP4: the smallest rendition's
// HLS segments (res.Offline is that rendition) copied into an MP4 with its index in front.
func offlineArgs(dir string, info Info, res Result) []string {
	args := []string{"-i", filepath.Join(dir, res.Renditions[0].Name, VariantPlaylist), "-map", "0:v:0", "-c:v", "copy"}
	if info.HasAudio() {
		// The segments carry ADTS AAC; MP4 wants the raw frames with a config record.
		args = append(args, "-map", "0:a:0", "-c:a", "copy", "-bsf:a", "aac_adtstoasc")
	}
	return append(args, "-movflags", "+faststart", filepath.Join(dir, OfflineFile))
}

// x264Presets are x264's presets, fastest first.
var x264Presets = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"}

// fasterPreset returns the x264 preset one step faster than p (ultrafast stays), or p itself
// when it is not one of x264's.
func fasterPreset(p string) string {
	for i, q := range x264Presets {
		if q == p {
			return x264Presets[max(i-1, 0)]
		}
	}
	return p
}

// profile is H.264 Main up to 720p, which every phone in use decodes in hardware, and High
// above it.
func profile(r Rendition) string {
	if min(r.Width, r.Height) > 720 {
		return "high"
	}
	return "main"
}

func bits(n int64) string { return strconv.FormatInt(n, 10) }

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// run runs ffmpeg (niced) with args and, when progress is set, reports how far it got through
// duration.
func run(ctx context.Context, opts Options, args []string, duration time.Duration, progress func(int)) error {
	full := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y", "-nostats", "-progress", "pipe:1"}, args...)
	name := "ffmpeg"
	if n := opts.Nice; n >= 0 {
		if n == 0 {
			n = 10
		}
		full = append([]string{"-n", strconv.Itoa(n), "ffmpeg"}, full...)
		name = "nice"
	}
	cmd := exec.CommandContext(ctx, name, full...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 64 << 10}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ffmpeg: %w", err)
	}
	readProgress(stdout, duration, progress)
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &FFmpegError{Err: err, Detail: lastLine(stderr.String())}
	}
	return nil
}

// FFmpegError is ffmpeg exiting with an error: the file, not the machine, is the cause, so
// running it again gives the same result. Callers tell it apart with errors.As, whatever
// wraps it ("offline MP4: …").
type FFmpegError struct {
	Err    error  // how ffmpeg ended (*exec.ExitError)
	Detail string // ffmpeg's last line on stderr
}

func (e *FFmpegError) Error() string { return fmt.Sprintf("ffmpeg: %v: %s", e.Err, e.Detail) }

func (e *FFmpegError) Unwrap() error { return e.Err }

// readProgress reads ffmpeg's -progress output ("out_time_us=1234567" lines) to the end.
func readProgress(r io.Reader, duration time.Duration, progress func(int)) {
	sc := bufio.NewScanner(r)
	last := -1
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "out_time_us=")
		if !ok || progress == nil || duration <= 0 {
			continue
		}
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		pct := min(99, max(0, int(time.Duration(us)*time.Microsecond*100/duration)))
		if pct != last {
			last = pct
			progress(pct)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// limitedBuffer keeps the first max bytes written and drops the rest, so a chatty ffmpeg
// cannot grow memory.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Files lists every file Transcode wrote in dir, as slash-separated paths relative to dir.
func Files(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	return out, err
}
