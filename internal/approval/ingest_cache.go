package approval

import (
	"context"
	"sync"
	"time"
)

// Accepting an event reads the integration and resolves the approver: four database round
// trips with the event's insert, of which these two reads are the part that is the same for
// every event of one OA and one approver. acceptCache keeps them for a short while, so that a
// burst is answered at the cost of its inserts.
const (
	// integrationCacheTTL bounds how long another replica's (or the callback engine's) change of
	// an integration — disabled, a secret revoked — may go unseen by Ingest. This process's own
	// changes through Service clear the entry at once.
	integrationCacheTTL = time.Second
	// approverCacheTTL bounds how long an approver who was just disabled, or whose employee
	// number moved to someone else, may still be accepted as the holder of a new task. Only
	// found users are kept: an unknown approver is looked up every time.
	approverCacheTTL = 5 * time.Second
	// maxCachedApprovers bounds the memory; the cache starts over beyond it.
	maxCachedApprovers = 50_000
)

type acceptCache struct {
	mu           sync.Mutex
	integrations map[string]cachedIntegration
	approvers    map[string]cachedApprover
}

type cachedIntegration struct {
	ig *Integration
	at time.Time
}

type cachedApprover struct {
	userID string
	at     time.Time
}

// acceptIntegration is integration(source), from the cache when it was read less than
// integrationCacheTTL ago.
func (s *Service) acceptIntegration(ctx context.Context, source string) (*Integration, error) {
	now := s.Now.UTC()
	c := &s.accept
	c.mu.Lock()
	e, ok := c.integrations[source]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < integrationCacheTTL && !now.Before(e.at) {
		return e.ig, nil
	}
	ig, err := s.integration(ctx, source)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.integrations == nil {
		c.integrations = map[string]cachedIntegration{}
	}
	c.integrations[source] = cachedIntegration{ig: ig, at: now}
	c.mu.Unlock()
	return ig, nil
}

// forgetIntegration drops source from the cache: its integration was just changed.
func (s *Service) forgetIntegration(source string) {
	s.accept.mu.Lock()
	delete(s.accept.integrations, source)
	s.accept.mu.Unlock()
}

// acceptApprovers is approvers(p), from the cache for an approver found less than
// approverCacheTTL ago.
func (s *Service) acceptApprovers(ctx context.Context, p *Payload) (map[string]string, error) {
	if p.Data.Task == nil {
		return nil, nil
	}
	no := p.Data.Task.ApproverEmployeeNo
	now := s.Now.UTC()
	c := &s.accept
	c.mu.Lock()
	e, ok := c.approvers[no]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < approverCacheTTL && !now.Before(e.at) {
		return map[string]string{no: e.userID}, nil
	}
	found, err := s.approvers(ctx, p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.approvers == nil || len(c.approvers) >= maxCachedApprovers {
		c.approvers = map[string]cachedApprover{}
	}
	c.approvers[no] = cachedApprover{userID: found[no], at: now}
	c.mu.Unlock()
	return found, nil
}
