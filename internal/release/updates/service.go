package updates

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/i18n"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/media"
)

// Service answers update checks, manifest and download requests, the install page and the ops
// numbers from its View. It is safe for concurrent use.
type Service struct {
	View *View
	DB   *mongodb.DB // downloads are recorded here (this package owns downloadsColl)
	// Devices is the device registry, which the ops numbers read.
	Devices AppDevices
	Store   media.Store
	// Signer signs the manifest URLs of iOS installs.
	Signer *ManifestSigner
	// PublicBaseURL is how devices reach mportal (MPORTAL_PUBLIC_BASE_URL), without a trailing
	// slash; manifest URLs are built on it, and iOS requires it to be https.
	PublicBaseURL string
	// Usage, when set, records an update_check (app, installed build, platform, the offer) for
	// the first check of a day by each device, app, build and offer: every app start checks, and
	// one event per check (tens of thousands a second) made the analytics writes cost the update
	// check half its throughput, for distinct counts that a day's first check already gives.
	Usage UsageRecorder
	Now   clock.Func

	checksToday dailyOnce
}

// dailyOnce tells whether a key is seen for the first time on a (UTC) day. It forgets
// everything when the day changes, and when it holds maxDailyKeys (then some checks of that day
// are recorded twice: harmless for distinct counts). Nearly every check is of a key already seen:
// that read takes no lock (a mutex taken by every update check had both cores take turns with its
// cache line); adding a key or starting a day does.
type dailyOnce struct {
	mu  sync.Mutex // serializes additions and the start of a day
	cur atomic.Pointer[dailySet]
}

// dailySet is one day's keys, by user: the map's key is a string, which it hashes in a few
// nanoseconds, where a dailyCheck (a struct, hashed field by field through the map's interface)
// took about 70 ns on every check. A user's first maxUserKeys keys (devices x apps x builds) are
// then compared in a slice that is replaced, never changed, when one is added; keys beyond those
// (a user on very many devices) go to a map keyed by the whole struct, so that no check scans a
// long slice.
type dailySet struct {
	day      int64
	seen     sync.Map // user id -> *[]dailyCheck, at most maxUserKeys
	overflow sync.Map // dailyCheck -> struct{}: a user's keys beyond maxUserKeys
	n        int      // keys in seen and overflow; guarded by dailyOnce.mu
}

const maxUserKeys = 16

// keysOf returns the slice of user's keys (nil for none).
func (s *dailySet) keysOf(user string) []dailyCheck {
	if v, ok := s.seen.Load(user); ok {
		return *v.(*[]dailyCheck)
	}
	return nil
}

// has reports whether the set holds key.
func (s *dailySet) has(key dailyCheck) bool {
	keys := s.keysOf(key.userID)
	if slices.Contains(keys, key) {
		return true
	}
	if len(keys) < maxUserKeys {
		return false
	}
	_, ok := s.overflow.Load(key)
	return ok
}

// dailyCheck is what makes an update check's usage event: a struct rather than one string, so
// that the check of an already recorded key (nearly every check) builds and allocates nothing.
type dailyCheck struct {
	userID, deviceID, appID string
	platform                release.Platform
	build                   int64
	offer                   rollout.UpdateType
}

const maxDailyKeys = 200_000

func (d *dailyOnce) first(day int64, key dailyCheck) bool {
	if set := d.cur.Load(); set != nil && set.day == day && set.has(key) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	set := d.cur.Load()
	if set == nil || set.day != day || set.n >= maxDailyKeys {
		set = &dailySet{day: day}
		d.cur.Store(set)
	}
	if set.has(key) { // added meanwhile
		return false
	}
	if keys := set.keysOf(key.userID); len(keys) < maxUserKeys {
		next := append(slices.Clip(keys), key) // a new slice: readers may hold the old one
		set.seen.Store(key.userID, &next)
	} else {
		set.overflow.Store(key, struct{}{})
	}
	set.n++
	return true
}

// UsageRecorder records usage events the update check sees (analytics.Recorder). Record must
// return at once and never fail the caller.
type UsageRecorder interface {
	Record(userID, deviceID, name string, props map[string]string)
}

// downloadsColl holds one release.Download per user and build: {_id: "<build _id>/<user id>"}.
const downloadsColl = "downloads"

// AppDevices is the device registry as the ops numbers read it.
type AppDevices interface {
	// ByApp returns the devices that last checked in with one of appIDs, on platform or, when
	// it is "", on every platform. It returns unavailable when the database fails.
	ByApp(ctx context.Context, appIDs []string, platform string) ([]directory.Device, error)
}

var _ AppDevices = (*directory.Devices)(nil)

// Update is the answer of the update check endpoint. Fields about the offered build are nil
// when nothing is offered; the URLs are nil unless an update is offered.
type Update struct {
	UpdateType     string     `json:"update_type"`
	Channel        string     `json:"channel"`
	InstalledNewer bool       `json:"installed_newer"`
	Unsatisfiable  bool       `json:"unsatisfiable"`
	MinBuild       int64      `json:"min_build"`
	Version        *string    `json:"version"`
	Build          *int64     `json:"build"`
	BuildID        *string    `json:"build_id"`
	Notes          *string    `json:"notes"`
	NotesHTML      *string    `json:"notes_html"`
	Size           *int64     `json:"size"`
	SHA256         *string    `json:"sha256"`
	PublishedAt    *time.Time `json:"published_at"`
	DownloadURL    *string    `json:"download_url"`
	InstallURL     *string    `json:"install_url"`
}

// CheckUpdate answers an app's update check with locale choosing the notes' language. It returns
// unauthorized without a principal, invalid (with the field) for bad parameters, not_found for an
// unknown app or platform, and unavailable when storage or the first load of the view fails.
// In steady state it reads no database and makes no network call: presigned URLs are signed
// locally and reused for at most URLReuse.
func (s *Service) CheckUpdate(ctx context.Context, p *auth.Principal, q Query, locale string) (*Update, error) {
	a, err := s.check(ctx, p, q, locale)
	if err != nil {
		return nil, err
	}
	return a.update(), nil
}

// answer is what an update check decided, before it is shaped as an Update: the result, the
// notes in the caller's language and the links (nil unless an update is offered; install only
// on iOS).
type answer struct {
	res              Result
	notes, notesHTML string
	link, install    *signedURL
}

// check does CheckUpdate's work up to the answer: the decision, the day's usage event and the
// links.
//
// It returns the answer by value: a pointer made it escape, one allocation on every check.
func (s *Service) check(ctx context.Context, p *auth.Principal, q Query, locale string) (answer, error) {
	if p == nil {
		return answer{}, apperr.New(apperr.Unauthorized, "authentication required")
	}
	snap, err := s.View.Current(ctx)
	if err != nil {
		return answer{}, err
	}
	res, err := snap.Check(p, q)
	if err != nil {
		return answer{}, err
	}
	now := s.Now.At(q.At) // one time for the day and the links: the request's, on the wall clock
	if s.Usage != nil {
		day := now.Unix() / 86400
		if s.checksToday.first(day, dailyCheck{userID: p.UserID, deviceID: p.DeviceID, appID: q.AppID,
			platform: q.Platform, build: q.Build, offer: res.Decision.Type}) {
			s.Usage.Record(p.UserID, p.DeviceID, "update_check", map[string]string{"app": q.AppID,
				"build": strconv.FormatInt(q.Build, 10), "platform": string(q.Platform), "offer": res.Decision.Type.String()})
		}
	}
	a := answer{res: res}
	if res.Build == nil {
		return a, nil
	}
	if a.notes = i18n.Pick(res.Build.Notes, locale); a.notes != "" {
		a.notesHTML = i18n.Pick(res.Build.NotesHTML, locale)
	}
	if res.Decision.Type == rollout.None { // nothing to download
		return a, nil
	}
	if a.link, err = s.downloadURL(ctx, res.build, now); err != nil {
		return answer{}, err
	}
	if res.Build.Platform == release.IOS {
		a.install = s.installURL(res.app.app.ID, res.build, now)
	}
	return a, nil
}

// update shapes a as the endpoint's answer. a is a copy (a value receiver), so that the Update's
// pointers into it do not move the caller's answer to the heap.
func (a answer) update() *Update {
	res := a.res
	u := &Update{
		UpdateType: res.Decision.Type.String(), Channel: res.Channel, MinBuild: res.MinBuild,
		InstalledNewer: res.Decision.InstalledNewer, Unsatisfiable: res.Decision.Unsatisfiable,
	}
	if res.Build == nil {
		return u
	}
	b := res.Build
	u.Version, u.Build, u.BuildID, u.Size, u.SHA256 = &b.Version, &b.Build, &b.PublicID, &b.Size, &b.SHA256
	u.PublishedAt = &res.Release.PublishedAt
	if a.notes != "" {
		u.Notes, u.NotesHTML = &a.notes, &a.notesHTML
	}
	if a.link != nil {
		u.DownloadURL = &a.link.url
	}
	if a.install != nil {
		u.InstallURL = &a.install.url
	}
	return u
}
