package video

import "strconv"

// Rendition is one rung of the HLS ladder, named after its short side ("720p").
type Rendition struct {
	Name         string `json:"name" bson:"name"`
	Width        int    `json:"width" bson:"width"`
	Height       int    `json:"height" bson:"height"`
	VideoBitRate int64  `json:"video_bit_rate" bson:"video_bit_rate"`
	AudioBitRate int64  `json:"audio_bit_rate,omitempty" bson:"audio_bit_rate,omitempty"`
}

// step is a rung of the full ladder: the short side in pixels and the H.264 video bit rate that
// looks good at that size for screen recordings and talking heads (PeerTube's and Apple's HLS
// authoring guide's figures, rounded).
type step struct {
	short   int
	bitRate int64
	audio   int64
}

var steps = []step{
	{360, 800_000, 96_000},
	{720, 2_500_000, 128_000},
	{1080, 5_000_000, 128_000},
}

// minVideoBitRate keeps a very low source bit rate (a slide show) from starving a rendition.
const minVideoBitRate = 200_000

// sourceHeadroom is how far above the source's own bit rate a rendition may go: re-encoding
// needs a little more than the original to keep its quality, never much more.
const sourceHeadroom = 1.2

// Ladder returns the renditions to produce from a source: 360p and 720p, plus 1080p when the
// source has it, never upscaling (a source smaller than 360p gets one rendition at its own
// size). The short side names a rung, so a portrait video's 720p is 720 pixels wide. Bit rates
// are capped near the source's. Renditions come smallest first.
func Ladder(info Info) []Rendition {
	short, long := info.Height, info.Width
	portrait := info.Height > info.Width
	if portrait {
		short, long = info.Width, info.Height
	}
	var out []Rendition
	for _, st := range steps {
		if st.short <= short {
			out = append(out, rung(st, short, long, portrait, info))
		}
	}
	if len(out) == 0 {
		out = append(out, rung(step{even(short), steps[0].bitRate, steps[0].audio}, short, long, portrait, info))
	}
	return out
}

// Offline returns the rendition of the progressive MP4 for offline viewing: the smallest rung,
// which is 360p for any source at least that large.
func Offline(info Info) Rendition {
	r := Ladder(info)[0]
	r.Name = "offline"
	return r
}

func rung(st step, short, long int, portrait bool, info Info) Rendition {
	s := even(st.short)
	l := even(int(float64(long)*float64(s)/float64(short) + 0.5))
	r := Rendition{Name: strconv.Itoa(st.short) + "p", Width: l, Height: s, VideoBitRate: st.bitRate}
	if portrait {
		r.Width, r.Height = s, l
	}
	if info.BitRate > 0 {
		r.VideoBitRate = min(r.VideoBitRate, max(int64(float64(info.BitRate)*sourceHeadroom), minVideoBitRate))
	}
	if info.HasAudio() {
		r.AudioBitRate = st.audio
	}
	return r
}

// even rounds down to an even number of pixels (H.264 4:2:0 needs even sizes), at least 2.
func even(n int) int { return max(n&^1, 2) }
