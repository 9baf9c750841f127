package updates

import (
	"context"
	"io"
	"net/url"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/i18n"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/media"
)

// Offer is the build the install page offers on one platform.
type Offer struct {
	Platform    release.Platform
	Channel     string // the channel actually answered
	Build       *release.Build
	NotesHTML   string // sanitized when the build was uploaded
	PublishedAt time.Time
	// DownloadPath is the download endpoint (relative to the public base URL); it records the
	// download and redirects to the file.
	DownloadPath string
	// InstallURL is the itms-services:// link on iOS, "" on Android.
	InstallURL string
}

// InstallInfo is what the install page shows a visitor: per platform, the build an app with
// nothing installed would be offered on the channel.
type InstallInfo struct {
	AppID   string
	AppName string
	Android *Offer
	IOS     *Offer
	// IconKey is the icon of the offered builds (Android's first), "" when neither has one.
	IconKey string
}

// Install returns the install page's data for the caller on channel ("" means stable; a channel
// the caller is not in is answered from stable, exactly like the update check). It returns
// unauthorized without a principal, invalid for a malformed channel and not_found for an unknown
// app.
func (s *Service) Install(ctx context.Context, p *auth.Principal, appID, channel, locale string) (*InstallInfo, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	snap, err := s.View.Current(ctx)
	if err != nil {
		return nil, err
	}
	a := snap.apps[appID]
	if a == nil {
		return nil, apperr.New(apperr.NotFound, "app not found")
	}
	info := &InstallInfo{AppID: a.app.ID, AppName: a.app.Name}
	for _, pf := range []release.Platform{release.Android, release.IOS} {
		if !a.supports(pf) {
			continue
		}
		res, err := snap.Check(p, Query{AppID: appID, Platform: pf, Channel: channel})
		if err != nil {
			return nil, err
		}
		if res.Build == nil {
			continue
		}
		o := &Offer{
			Platform: pf, Channel: res.Channel, Build: res.Build, PublishedAt: res.Release.PublishedAt,
			NotesHTML:    i18n.Pick(res.Build.NotesHTML, locale),
			DownloadPath: "/v1/apps/" + url.PathEscape(appID) + "/builds/" + url.PathEscape(res.Build.PublicID) + "/download",
		}
		if pf == release.IOS {
			o.InstallURL = s.installURL(appID, res.build, s.Now.UTC()).url
			info.IOS = o
		} else {
			info.Android = o
		}
		if info.IconKey == "" {
			info.IconKey = res.Build.IconKey
		}
	}
	return info, nil
}

// AppName returns the display name of an app, for the install page's sign-in form, which
// has no principal yet; "" for an unknown app, so that the form looks the same either way.
func (s *Service) AppName(ctx context.Context, appID string) (string, error) {
	snap, err := s.View.Current(ctx)
	if err != nil {
		return "", err
	}
	if a := snap.apps[appID]; a != nil {
		return a.app.Name, nil
	}
	return "", nil
}

// InstallIcon opens the PNG icon of the builds the install page offers the caller on channel
// (see Install), and returns its size. It returns not_found when the offered builds have no
// icon, and Install's errors otherwise. The caller closes the reader.
func (s *Service) InstallIcon(ctx context.Context, p *auth.Principal, appID, channel string) (io.ReadCloser, int64, error) {
	info, err := s.Install(ctx, p, appID, channel, "")
	if err != nil {
		return nil, 0, err
	}
	if info.IconKey == "" {
		return nil, 0, apperr.New(apperr.NotFound, "the offered builds have no icon")
	}
	st, err := s.Store.Stat(ctx, media.Images, info.IconKey)
	if err != nil {
		return nil, 0, err
	}
	r, err := s.Store.Open(ctx, media.Images, info.IconKey, 0, -1)
	if err != nil {
		return nil, 0, err
	}
	return r, st.Size, nil
}
