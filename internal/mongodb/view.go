package mongodb

import (
	"context"
	"sync"
)

// View is an in-memory copy of a small collection (banners, what's-new cards, announcements) that
// hot paths read instead of the database: on the embedded FerretDB every query scans. Writers
// call Refresh after their own writes so this instance shows them at once; a worker calls it
// every few seconds to pick up other instances' writes. The zero value is ready to use.
type View[T any] struct {
	reload sync.Mutex // serializes reloads, so a slow one cannot overwrite a newer one
	mu     sync.RWMutex
	loaded bool
	items  []T // replaced on reload, never modified: readers may keep it
}

// Refresh replaces the view with what load returns. On error the previous view stays in force.
func (v *View[T]) Refresh(ctx context.Context, load func(context.Context) ([]T, error)) error {
	v.reload.Lock()
	defer v.reload.Unlock()
	items, err := load(ctx)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.items, v.loaded = items, true
	v.mu.Unlock()
	return nil
}

// Get returns the items, loading them first if this instance has not yet. Callers must not
// modify the slice.
func (v *View[T]) Get(ctx context.Context, load func(context.Context) ([]T, error)) ([]T, error) {
	v.mu.RLock()
	items, loaded := v.items, v.loaded
	v.mu.RUnlock()
	if loaded {
		return items, nil
	}
	if err := v.Refresh(ctx, load); err != nil {
		return nil, err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.items, nil
}

// RefreshAfterWrite shows a write of this instance in the view at once. A failed reload does
// not fail the write, which is stored: the periodic Refresh picks it up within seconds. The
// reload outlives the writer's request, so a client that hangs up cannot leave the view stale.
func (v *View[T]) RefreshAfterWrite(ctx context.Context, load func(context.Context) ([]T, error)) {
	_ = v.Refresh(context.WithoutCancel(ctx), load)
}
