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

// ownerCache remembers who created each upload. An upload's owner never changes, so entries
// never go stale; it keeps the database read off every PATCH and HEAD (the embedded database
// scans the collection for each _id lookup).
type ownerCache struct {
	mu    sync.Mutex
	max   int
	users map[string]string
}

func newOwnerCache(max int) *ownerCache {
	return &ownerCache{max: max, users: make(map[string]string)}
}

func (c *ownerCache) get(objectID string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.users[objectID]
	return u, ok
}

func (c *ownerCache) put(objectID, userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.users) >= c.max {
		clear(c.users)
	}
	c.users[objectID] = userID
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
// does not exist, gets the same not_found, so ids cannot be probed.
func (s *Service) authorizeUpload(ctx context.Context, p *auth.Principal, id string) error {
	notFound := apperr.New(apperr.NotFound, "upload not found")
	objectID := objectIDOf(id)
	if objectID == "" {
		return notFound
	}
	owner, ok := s.owners.get(objectID)
	if !ok {
		rec, err := s.records.get(ctx, objectID)
		if apperr.CodeOf(err) == apperr.NotFound {
			return notFound
		}
		if err != nil {
			return err
		}
		owner = rec.UserID
		s.owners.put(objectID, owner)
	}
	if owner != p.UserID {
		return notFound
	}
	return nil
}
