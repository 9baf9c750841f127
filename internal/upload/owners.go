package upload

import (
	"context"
	"strings"
	"sync"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// ownerCacheSize bounds the in-memory owner cache; at the bound it starts over, which costs one
// database read per upload still in progress.
const ownerCacheSize = 10_000

// owner is who created an upload, and for which purpose.
type owner struct {
	userID, purpose string
}

// ownerCache remembers who created each upload and for what. Neither ever changes, so entries
// never go stale; it keeps the database read off every PATCH and HEAD (the embedded database
// scans the collection for each _id lookup).
type ownerCache struct {
	mu     sync.Mutex
	max    int
	owners map[string]owner
}

func newOwnerCache(max int) *ownerCache {
	return &ownerCache{max: max, owners: make(map[string]owner)}
}

func (c *ownerCache) get(objectID string) (owner, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.owners[objectID]
	return o, ok
}

func (c *ownerCache) put(objectID string, o owner) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.owners) >= c.max {
		clear(c.owners)
	}
	c.owners[objectID] = o
}

// objectIDOf returns the object id part of a tus upload id ("<object id>+<multipart id>"), or ""
// when id does not have that form.
func objectIDOf(id string) string {
	i := strings.LastIndex(id, "+")
	if i <= 0 || i == len(id)-1 {
		return ""
	}
	return id[:i]
}

// authorizeUpload lets only the creator of upload id touch it. Everyone else, and any id that
// does not exist, gets the same not_found, so ids cannot be probed. It returns the upload's
// purpose (zero when it is no longer registered).
func (s *Service) authorizeUpload(ctx context.Context, p *auth.Principal, id string) (Purpose, error) {
	notFound := apperr.New(apperr.NotFound, "upload not found")
	objectID := objectIDOf(id)
	if objectID == "" {
		return Purpose{}, notFound
	}
	o, ok := s.owners.get(objectID)
	if !ok {
		rec, err := s.records.get(ctx, objectID)
		if apperr.CodeOf(err) == apperr.NotFound {
			return Purpose{}, notFound
		}
		if err != nil {
			return Purpose{}, err
		}
		o = owner{userID: rec.UserID, purpose: rec.Purpose}
		s.owners.put(objectID, o)
	}
	if o.userID != p.UserID {
		return Purpose{}, notFound
	}
	purpose, _ := s.purpose(o.purpose)
	return purpose, nil
}

// allows checks that p holds one of the purpose's Roles (any user when it names none).
func (pp Purpose) allows(p *auth.Principal) error {
	if len(pp.Roles) == 0 {
		return nil
	}
	return auth.RequireRole(p, pp.Roles...)
}
