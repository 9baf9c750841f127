package api

import (
	"context"
	"io"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
)

// Releases is app distribution's management side (release.Service): apps, channels, membership,
// builds and staged releases. The ops methods return forbidden unless the actor has role ops or
// admin; every method returns not_found for an unknown app (or channel, build, track, release,
// member) and unavailable when the database or the object storage cannot be reached.
type Releases interface {
	// Apps lists every app with the channels the caller can see.
	Apps(ctx context.Context, p *auth.Principal) ([]release.AppView, error)
	// Channels returns not_found for an unknown app.
	Channels(ctx context.Context, p *auth.Principal, appID string) ([]release.ChannelView, error)
	// Join returns not_found for a channel the caller cannot see, forbidden without self opt-in
	// and conflict when the channel is full.
	Join(ctx context.Context, p *auth.Principal, appID, channel string) (*release.ChannelView, error)
	// Leave returns not_found for a channel the caller cannot see.
	Leave(ctx context.Context, p *auth.Principal, appID, channel string) (*release.ChannelView, error)

	// CreateApp returns invalid (with the field) for bad input and conflict for a taken id.
	CreateApp(ctx context.Context, actor *auth.Principal, in release.AppInput) (*release.App, error)
	ListApps(ctx context.Context, actor *auth.Principal) ([]release.App, error)
	GetApp(ctx context.Context, actor *auth.Principal, appID string) (*release.App, error)
	// UpdateApp returns invalid (with the field) for bad input.
	UpdateApp(ctx context.Context, actor *auth.Principal, appID string, in release.AppPatch) (*release.App, error)
	ListChannels(ctx context.Context, actor *auth.Principal, appID string) ([]release.Channel, error)
	// PutChannel returns invalid (with the field) for bad settings.
	PutChannel(ctx context.Context, actor *auth.Principal, appID, channel string, in release.ChannelInput) (*release.Channel, error)
	// ListMembers returns invalid for stable, which has no explicit members.
	ListMembers(ctx context.Context, actor *auth.Principal, appID, channel string) ([]release.Member, error)
	// Invite returns invalid for stable and conflict when the channel is full.
	Invite(ctx context.Context, actor *auth.Principal, appID, channel, userID string) (*release.Member, error)
	RemoveMember(ctx context.Context, actor *auth.Principal, appID, channel, userID string) error

	// StartUpload returns invalid (with the field) for bad input and too_large for a file over
	// the limit.
	StartUpload(ctx context.Context, actor *auth.Principal, appID string, in release.UploadInput) (*release.UploadTicket, error)
	// CreateBuild returns invalid for a bad upload key, a file that is not a usable APK or IPA
	// or of another app, too_large for an oversized file, and conflict for a build number
	// already uploaded.
	CreateBuild(ctx context.Context, actor *auth.Principal, appID string, in release.BuildInput) (*release.Build, error)
	// ListBuilds returns invalid (field platform) for a bad platform.
	ListBuilds(ctx context.Context, actor *auth.Principal, appID string, platform release.Platform) ([]release.Build, error)
	// UpdateBuild returns invalid (with the field) for bad notes or an unknown card.
	UpdateBuild(ctx context.Context, actor *auth.Principal, appID, buildID string, in release.BuildPatch) (*release.Build, error)
	// DeleteBuild returns conflict while the build is in a release that is not halted.
	DeleteBuild(ctx context.Context, actor *auth.Principal, appID, buildID string) error

	// Publish returns invalid (with the field) for bad input and conflict when the build is
	// already released on the track.
	Publish(ctx context.Context, actor *auth.Principal, appID string, in release.PublishInput) (*release.Track, error)
	// ChangeRelease returns invalid (field percent) for a bad raise and conflict for a
	// transition the release's state does not allow.
	ChangeRelease(ctx context.Context, actor *auth.Principal, appID string, platform release.Platform, channel, releaseID string, tr release.Transition, percent float64) (*release.Track, error)
	// SetMinBuild returns invalid (field min_build) for a negative build.
	SetMinBuild(ctx context.Context, actor *auth.Principal, appID string, platform release.Platform, channel string, minBuild int64) (*release.Track, error)
	ListTracks(ctx context.Context, actor *auth.Principal, appID string) ([]release.Track, error)
	// Reach estimates who a channel includes (active users, pushable devices); unavailable
	// without a directory.
	Reach(ctx context.Context, actor *auth.Principal, appID, channel string) (*release.ChannelReach, error)
	// BuildIcon opens a build's PNG icon (not_found when it has none); the caller closes it.
	BuildIcon(ctx context.Context, actor *auth.Principal, appID, buildID string) (io.ReadCloser, int64, error)
}

var _ Releases = (*release.Service)(nil)
