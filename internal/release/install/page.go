package install

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"

	"github.com/microcosm-cc/bluemonday"

	"github.com/mportal/mportal/internal/release/updatecheck"
)

// CSP is the Content-Security-Policy of every install page: nothing is loaded from elsewhere,
// and the only images are the page's own QR code.
const CSP = "default-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"

// Page is what one rendering of the install page shows.
type Page struct {
	AppID   string
	AppName string
	Device  Device
	WeChat  bool
	// Info is the visitor's offers; nil renders the login form instead.
	Info *updatecheck.InstallInfo
	// LoginMessage is shown above the login form (a failed attempt, an expired session).
	LoginMessage string
	// Next is the page to return to after login (a same-site path).
	Next string
	// QRPath is the QR code image of the page, shown to desktop visitors.
	QRPath string
}

// offerView is an Offer prepared for the template: sizes formatted, notes re-sanitized (they
// were sanitized at upload; this is defence in depth) and the install link typed as trusted,
// because html/template rightly refuses itms-services:// in an href otherwise.
type offerView struct {
	Label, Version, Size, Published, Channel string
	Build                                    int64
	Notes                                    template.HTML
	Href                                     template.URL
	Button                                   string
}

var notesPolicy = bluemonday.UGCPolicy()

func view(o *updatecheck.Offer, device Device) *offerView {
	if o == nil {
		return nil
	}
	v := &offerView{
		Label: "Android", Version: o.Build.Version, Build: o.Build.Build, Size: humanSize(o.Build.Size),
		Published: o.PublishedAt.UTC().Format("2006-01-02"), Channel: o.Channel,
		Notes: template.HTML(notesPolicy.Sanitize(o.NotesHTML)), //nolint:gosec // sanitized just now
		Href:  template.URL(o.DownloadPath), Button: "Download APK",
	}
	if o.InstallURL != "" {
		v.Label, v.Button = "iOS", "Install"
		v.Href = template.URL(o.InstallURL) //nolint:gosec // built by artifact.InstallURL from our own URL
	}
	if device == Desktop && o.InstallURL != "" {
		v.Href = "" // itms-services links do nothing on a computer; the QR code is the way
	}
	return v
}

// Render writes the page as HTML. Every value is escaped by html/template.
func Render(p Page) ([]byte, error) {
	data := struct {
		Page
		Offers  []*offerView
		Desktop bool
	}{Page: p, Desktop: p.Device == Desktop}
	if p.Info != nil {
		android, ios := view(p.Info.Android, p.Device), view(p.Info.IOS, p.Device)
		switch p.Device {
		case Android:
			ios = nil
		case IPhone:
			android = nil
		}
		for _, o := range []*offerView{android, ios} {
			if o != nil {
				data.Offers = append(data.Offers, o)
			}
		}
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("install: render page: %w", err)
	}
	return buf.Bytes(), nil
}

// humanSize formats a byte count for people: "23.4 MB".
func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
