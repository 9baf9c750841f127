package updates

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mportal/mportal/internal/release"
)

// PollInterval is how often every instance reads the generation token; it bounds how stale an
// instance's view of another instance's release changes can be.
const PollInterval = time.Second

// DefaultMaxAge is View.MaxAge's default.
const DefaultMaxAge = 5 * time.Minute

// Releases is the release service as the view reads it.
type Releases interface {
	// Generation returns the token every catalog write changes; "" before the first write.
	// It returns unavailable when the database fails.
	Generation(ctx context.Context) (string, error)
	// Catalog reads the whole catalog. It returns unavailable when the database fails.
	Catalog(ctx context.Context) (*release.Catalog, error)
}

var _ Releases = (*release.Service)(nil)

// View holds the current Snapshot of the release catalog. Readers take the snapshot with one
// atomic load; Reload builds a whole new one and swaps it in. Each instance polls the release
// service's generation document every PollInterval and reloads when its token changed, and the
// instance that wrote reloads at once through the release service's change hook, so a change is
// visible here immediately and on other instances within about a second.
type View struct {
	Releases Releases
	// MaxAge makes Poll reload a snapshot this old even when the token did not change: a write
	// whose token update failed (the write itself succeeded) is seen by the other instances
	// within MaxAge rather than never. Zero means DefaultMaxAge.
	MaxAge time.Duration

	loadedAt atomic.Int64 // when the snapshot was loaded, Unix nanoseconds

	reload sync.Mutex // one reload at a time, so an older load never replaces a newer one
	cur    atomic.Pointer[Snapshot]
	// changes counts Changed calls; covered (guarded by reload) is the count when the last
	// successful load started, so a burst of writes waits for one reload, not one each.
	changes atomic.Int64
	covered int64
}

// Current returns the snapshot, loading it on first use. It returns unavailable when that first
// load fails.
func (v *View) Current(ctx context.Context) (*Snapshot, error) {
	if s := v.cur.Load(); s != nil {
		return s, nil
	}
	if err := v.Reload(ctx); err != nil {
		return nil, err
	}
	return v.cur.Load(), nil
}

// Reload loads the release catalog and replaces the snapshot. The token is read before the
// catalog: a write that lands during the load changes the token after its data, so the next
// Poll sees a new token and loads again; a snapshot can be labelled older than its data, never
// newer. On error the previous snapshot stays in force.
func (v *View) Reload(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("reload release view: %w", err)
		}
	}()
	v.reload.Lock()
	defer v.reload.Unlock()
	return v.load(ctx)
}

// load does Reload's work; the caller holds v.reload.
func (v *View) load(ctx context.Context) error {
	started := v.changes.Load()
	token, err := v.Releases.Generation(ctx)
	if err != nil {
		return err
	}
	c, err := v.Releases.Catalog(ctx)
	if err != nil {
		return err
	}
	v.cur.Store(NewSnapshot(Data{Token: token, Apps: c.Apps, Channels: c.Channels, Members: c.Members,
		Builds: c.Builds, Tracks: c.Tracks}))
	v.loadedAt.Store(time.Now().UnixNano())
	v.covered = started
	return nil
}

// Poll reloads when the generation token differs from the current snapshot's, when nothing is
// loaded yet, or when the snapshot is MaxAge old. It costs one read of a one-document collection.
func (v *View) Poll(ctx context.Context) error {
	token, err := v.Releases.Generation(ctx)
	if err != nil {
		return fmt.Errorf("poll release generation: %w", err)
	}
	maxAge := v.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if s := v.cur.Load(); s != nil && s.token == token && time.Since(time.Unix(0, v.loadedAt.Load())) < maxAge {
		return nil
	}
	return v.Reload(ctx)
}

// changeReloadTimeout bounds the reload a local write triggers.
const changeReloadTimeout = 10 * time.Second

// Changed is the release service's change hook (release.Service.OnChange): it reloads at once,
// so the instance that wrote answers with its write from the next request on. A failed reload
// leaves the token unchanged in the snapshot, so the next Poll retries it.
func (v *View) Changed() {
	seq := v.changes.Add(1)
	v.reload.Lock()
	defer v.reload.Unlock()
	if v.covered >= seq {
		return // a load that started after this change already picked it up
	}
	ctx, cancel := context.WithTimeout(context.Background(), changeReloadTimeout)
	defer cancel()
	// On error the snapshot keeps its old token, so the next Poll retries.
	_ = v.load(ctx)
}
