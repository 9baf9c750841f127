package api

import (
	"context"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/auth"
)

// Analytics ingests the apps' usage events and answers the operating numbers
// (analytics.Service). The queries return forbidden for callers other than ops and admins and
// invalid naming the bad parameter.
type Analytics interface {
	// Ingest stores the caller's batch: invalid for a bad batch (a bad event is rejected alone,
	// in the result), rate_limited with Retry-After, unavailable when the database is down.
	Ingest(ctx context.Context, p *auth.Principal, b analytics.Batch) (*analytics.IngestResult, error)
	ActiveUsers(p *auth.Principal, r analytics.Range, dimension, value string) (*analytics.ActiveUsers, error)
	BreakdownBy(p *auth.Principal, r analytics.Range, dimension string) ([]analytics.Breakdown, error)
	Screens(p *auth.Principal, r analytics.Range, limit int) ([]analytics.Screen, error)
	ScreenDays(p *auth.Principal, r analytics.Range, screen string) ([]analytics.ScreenDay, error)
	Adoption(p *auth.Principal, app string, r analytics.Range) ([]analytics.AdoptionDay, error)
	// ReleaseAdoption and Stuck also return not_found for an unknown app and unavailable when
	// the release numbers cannot be read.
	ReleaseAdoption(ctx context.Context, p *auth.Principal, app string) ([]analytics.ReleaseReach, error)
	Stuck(ctx context.Context, p *auth.Principal, app, platform string, offset, limit int) ([]analytics.StuckGroup, []analytics.StuckDevice, error)
	// Activation also returns unavailable when the directory cannot be read.
	Activation(ctx context.Context, p *auth.Principal) (*analytics.Activation, error)
}

var _ Analytics = (*analytics.Service)(nil)
