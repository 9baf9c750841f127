package feedback

import (
	"context"

	"github.com/mportal/mportal/internal/auth"
	datasync "github.com/mportal/mportal/sync"
)

// GrantedKeys is the sync engine as AccessGrants reads it.
type GrantedKeys interface {
	// GrantedKeys returns the keys granted to userID and not revoked. It returns unavailable
	// when the database fails.
	GrantedKeys(ctx context.Context, userID string) ([]string, error)
}

var _ GrantedKeys = (*datasync.Engine)(nil)

// AccessGrants implements Grants with the sync engine's grants, so that a tester sees over REST
// exactly the shared feedback that sync gives them. It reads the engine's grants of the caller
// on every call (REST reads and comment pushes only; pulls get the keys from the engine).
type AccessGrants struct {
	Sync GrantedKeys
}

var _ Grants = (*AccessGrants)(nil)

// Keys implements Grants: p's own key and every key granted to p and not revoked.
func (g *AccessGrants) Keys(ctx context.Context, p *auth.Principal) ([]string, error) {
	granted, err := g.Sync.GrantedKeys(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	return append([]string{datasync.UserKey(p.UserID)}, granted...), nil
}
