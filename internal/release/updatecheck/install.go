package updatecheck

import (
	"context"
	"net/url"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/i18n"
	"github.com/mportal/mportal/internal/release"
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
			o.InstallURL = s.installURL(appID, res.build)
			info.IOS = o
		} else {
			info.Android = o
		}
	}
	return info, nil
}
