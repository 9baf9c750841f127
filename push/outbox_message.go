package push

import (
	"context"
	"sync"

	"github.com/mportal/mportal/internal/i18n"
)

// cachedNotification is a notification as the workers use it, with the data map every message
// of it shares. Notifications never change after Enqueue, so the cache needs no invalidation.
type cachedNotification struct {
	*notificationDoc
	data map[string]string
}

// notificationCache keeps the notifications being worked on, so that sending a batch does not
// read its notification again.
type notificationCache struct {
	mu sync.Mutex
	m  map[string]*cachedNotification
}

// maxCached bounds the cache; when full it starts over, which costs one read per notification.
const maxCached = 256

func (c *notificationCache) get(id string) *cachedNotification {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *notificationCache) put(n *cachedNotification) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]*cachedNotification)
	}
	c.m[n.Key] = n
}

func (c *notificationCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// notification returns the notification id, from the cache when possible. done_at may be stale
// in a cached copy; callers that care read push_active.
func (e *Engine) notification(ctx context.Context, id string) (*cachedNotification, error) {
	if n := e.cache.get(id); n != nil {
		return n, nil
	}
	doc, err := e.loadNotification(ctx, id)
	if err != nil {
		return nil, err
	}
	data := make(map[string]string, len(doc.Data)+3)
	for k, v := range doc.Data {
		data[k] = v
	}
	if doc.DeepLink != "" {
		data["deep_link"] = doc.DeepLink
	}
	data["category"] = string(doc.Category)
	data["notification_id"] = doc.Key
	n := &cachedNotification{notificationDoc: doc, data: data}
	e.cache.put(n)
	return n, nil
}

// message builds the push for one device in its locale. Data is shared by all messages of the
// notification; senders only read it.
func (n *cachedNotification) message(d *batchDevice) Message {
	return Message{
		ID:          n.Key + "/" + d.Key,
		Token:       d.Token,
		Platform:    d.Platform,
		Category:    n.Category,
		Title:       i18n.Pick(n.Title, d.Locale),
		Body:        i18n.Pick(n.Body, d.Locale),
		DeepLink:    n.DeepLink,
		Data:        n.data,
		CollapseKey: n.CollapseKey,
		Silent:      n.Silent,
	}
}
