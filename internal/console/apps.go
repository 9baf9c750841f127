package console

import (
	"fmt"
	"html/template"
	"math"

	"github.com/mportal/mportal/internal/release"
)

// AppScreen is the screen of one app: its builds (with the upload form), its tracks and
// releases, its channels, and the install page's link and QR code.
type AppScreen struct {
	App      release.App
	Builds   []release.Build
	Tracks   []release.Track
	Channels []release.Channel
	// InstallURL is the absolute link of the install page; InstallQR a data: URL of its QR code
	// (a PNG), which the CSP's img-src allows.
	InstallURL string
	InstallQR  template.URL
}

// BuildScreen is one build's parsed metadata and the form that publishes it.
type BuildScreen struct {
	App      release.App
	Build    release.Build
	Channels []release.Channel
}

// Confirmation is the page that says who a release change will reach before it is made. Form
// holds the fields the confirming form posts again (besides the anti-forgery token).
type Confirmation struct {
	App   release.App
	Reach release.ChannelReach
	// Action is publish, raise, halt, resume or complete.
	Action   string
	Platform release.Platform
	Build    int64
	Version  string
	// From and To are the release's percentage before and after (To is the new one).
	From, To float64
	// PostTo is where the confirming form posts.
	PostTo string
	Form   []Field
	// Cancel goes back without changing anything.
	Cancel string
}

// Field is one hidden form field.
type Field struct{ Name, Value string }

// Reached estimates the users a release at percent reaches among users: each user's cohort is
// a hash, so this is the expected number, rounded.
func Reached(users int, percent float64) int {
	return int(math.Round(float64(users) * percent / 100))
}

// ToUsers is the number of users the confirmed change is expected to reach.
func (c Confirmation) ToUsers() int { return Reached(c.Reach.Users, c.To) }

// FromUsers is the number of users the release reached before the change.
func (c Confirmation) FromUsers() int { return Reached(c.Reach.Users, c.From) }

// ChannelScreen is one channel's settings, its explicit members and its reach.
type ChannelScreen struct {
	App     release.App
	Channel release.Channel
	Members []release.Member
	Reach   release.ChannelReach
}

// Stable reports whether the channel is stable, which has everybody and no settings.
func (c ChannelScreen) Stable() bool { return c.Channel.Kind == release.KindStable }

// Size writes a file size for people: 1536 -> "1.5 KiB".
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// TracksView is what the releases table shows: an app's tracks, in a locale.
type TracksView struct {
	Locale string
	App    release.App
	Tracks []release.Track
}

// In returns the app's releases table in locale.
func (a AppTracks) In(locale string) TracksView { return TracksView{locale, a.App, a.Tracks} }

// In returns the app's releases table in locale.
func (a AppScreen) In(locale string) TracksView { return TracksView{locale, a.App, a.Tracks} }
