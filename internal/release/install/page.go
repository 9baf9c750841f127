package install

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/microcosm-cc/bluemonday"

	"github.com/mportal/mportal/internal/release/updates"
)

// Page is what one rendering of the install page shows.
type Page struct {
	AppID   string
	AppName string
	Device  Device
	WeChat  bool
	// Info is the visitor's offers; nil renders the login form instead.
	Info *updates.InstallInfo
	// Locale is the language of the page's own words (NegotiateLocale); "" means zh-CN.
	Locale Locale
	// Message is shown above the login form (a failed attempt, an expired session);
	// RetryAfter is the wait in seconds that TooManyAttempts names.
	Message    Message
	RetryAfter int
	// Next is the page to return to after login (a same-site path).
	Next string
	// CSRFToken is the login form's anti-forgery token, the value of its cookie.
	CSRFToken string
	// QRPath is the QR code image of the page, shown to desktop visitors.
	QRPath string
	// IconPath is the app icon's image, "" when the offered builds have none.
	IconPath string
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

func view(o *updates.Offer, device Device, t *texts) *offerView {
	if o == nil {
		return nil
	}
	v := &offerView{
		Label: "Android", Version: o.Build.Version, Build: o.Build.Build, Size: humanSize(o.Build.Size),
		Published: o.PublishedAt.UTC().Format("2006-01-02"), Channel: o.Channel,
		Notes: template.HTML(notesPolicy.Sanitize(o.NotesHTML)), //nolint:gosec // sanitized just now
		Href:  template.URL(o.DownloadPath), Button: t.DownloadAPK,
	}
	if o.InstallURL != "" {
		v.Label, v.Button = "iOS", t.InstallIOS
		v.Href = template.URL(o.InstallURL) //nolint:gosec // built by artifact.InstallURL from our own URL
	}
	if device == Desktop && o.InstallURL != "" {
		v.Href = "" // itms-services links do nothing on a computer; the QR code is the way
	}
	return v
}

// Render writes the page as HTML. Every value is escaped by html/template.
func Render(p Page) ([]byte, error) {
	t := textsFor(p.Locale)
	data := struct {
		Page
		T           *texts
		MessageText string
		Offers      []*offerView
		Desktop     bool
	}{Page: p, T: t, Desktop: p.Device == Desktop}
	if msg := t.messages[p.Message]; msg != "" {
		if strings.Contains(msg, "%d") {
			msg = fmt.Sprintf(msg, p.RetryAfter)
		}
		data.MessageText = msg
	}
	if p.Info != nil {
		android, ios := view(p.Info.Android, p.Device, t), view(p.Info.IOS, p.Device, t)
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
