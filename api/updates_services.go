package api

import (
	"context"
	"io"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/updates"
)

// Updates is the read side of app distribution (updates.Service): the update check,
// iOS manifests, downloads, the install page's data and the ops numbers. Every method returns
// unavailable when the database or object storage cannot be reached.
type Updates interface {
	// CheckUpdateJSON returns the JSON answer of an app's update check (updates.Update), which
	// other calls may share: read only. invalid (with field) for bad parameters, not_found for
	// an unknown app or a platform it does not ship on. locale is only read during the call
	// (the handler passes the request's bytes uncopied).
	CheckUpdateJSON(ctx context.Context, p *auth.Principal, q updates.Query, locale string) ([]byte, error)
	// Manifest returns an iOS build's manifest.plist for a signed link; not_found for a bad,
	// expired or tampered signature and for an unknown build.
	Manifest(ctx context.Context, appID, buildID string, expires int64, sig string) ([]byte, error)
	// Download records the caller's download of a build and returns a presigned URL of it and
	// its expiry; not_found unless the build is offered to the caller (ops and admin may fetch
	// any build).
	Download(ctx context.Context, p *auth.Principal, appID, buildID string) (string, time.Time, error)
	// Install returns what the install page offers the caller; invalid for a malformed channel,
	// not_found for an unknown app.
	Install(ctx context.Context, p *auth.Principal, appID, channel, locale string) (*updates.InstallInfo, error)
	// AppName returns an app's display name for the sign-in form, "" for an unknown app.
	AppName(ctx context.Context, appID string) (string, error)
	// InstallIcon opens the icon of the builds the install page offers the caller, and returns
	// its size; not_found when they have none, and Install's errors.
	InstallIcon(ctx context.Context, p *auth.Principal, appID, channel string) (io.ReadCloser, int64, error)
	// Stats returns an app's numbers; forbidden unless ops or admin, invalid for a bad platform,
	// not_found for an unknown app.
	Stats(ctx context.Context, p *auth.Principal, appID string, platform release.Platform) (*updates.Stats, error)
}

var _ Updates = (*updates.Service)(nil)
