package upload

import (
	"context"

	"github.com/mportal/mportal/internal/auth"
)

type contextKey int

const principalKey contextKey = 0

// WithPrincipal returns ctx carrying the authenticated caller. The API puts it in the request
// context before calling Handler, and the tus hooks read it from there: Handler answers 401 to a
// request without one.
func WithPrincipal(ctx context.Context, p *auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// principalFrom returns the caller stored by WithPrincipal, or nil.
func principalFrom(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey).(*auth.Principal)
	return p
}
