// Package console renders the ops web console served at /console/: server-rendered HTML pages
// that work without script (the few scripts, under static/, only enhance them), styled by
// embedded stylesheets, in zh-CN and en. The pages only
// show what the API's services return; api/console_handlers.go calls the services and this
// package turns the results into HTML.
package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/install"
)

// CSP is the console's Content-Security-Policy: nothing but this site's stylesheet, images and
// static scripts (no inline script, no inline style), requests from script only to this site,
// forms posting only here, and no framing. A page that needs another origin widens one
// directive with CSPAllowing.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; script-src 'self'; connect-src 'self'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Static holds the console's static files (static/console.css), served under /console/static/.
func Static() fs.FS {
	sub, _ := fs.Sub(staticFS, "static") // the directory is embedded: Sub cannot fail
	return sub
}

// Locale picks the console's language from an Accept-Language header (zh-CN or en), as the
// install page does.
func Locale(acceptLanguage string) string { return string(install.NegotiateLocale(acceptLanguage)) }

// Page is what every console page shows around its content.
type Page struct {
	Locale string
	// Title is a message key (see messages.go).
	Title string
	// Viewer is the signed-in user; nil on the sign-in page.
	Viewer *auth.Principal
	// CSRFToken goes into every form that changes something.
	CSRFToken string
	// Nav is the key of the current section, highlighted in the menu.
	Nav string
	// Message is a message key shown above the content ("" for none).
	Message string
	// Data is the page's own content.
	Data any
	// SignedOut marks a page answered as the session ends (a sign-in refused for the user's
	// roles): it has no viewer, so no menu and no sign-out button.
	SignedOut bool
}

// CanUseConsole reports whether the viewer sees the menu: ops and admins only (a user who lost
// those roles during the session gets sign-out alone), and not while a one-time password is still
// to be changed (the password form and sign-out are all such a user can reach).
func (p Page) CanUseConsole() bool {
	return p.Viewer.HasAnyRole(auth.RoleOps, auth.RoleAdmin) && !p.Viewer.PasswordChangeRequired
}

// CanManageUsers reports whether the viewer sees the users and audit screens (admins only).
func (p Page) CanManageUsers() bool { return p.Viewer.HasRole(auth.RoleAdmin) }

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"t":    func(locale, key string) string { return T(locale, key) },
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"list": func(s ...string) []string { return s },
	"size": Size,
	// The training screens' (training.go).
	"trstatus": TrainingStatus,
	"audience": Audience,
	"minutes":  Minutes,
}).ParseFS(templateFS, "templates/*.html"))

// Render renders the named page template ("login", "dashboard", "users", "audit", "denied")
// inside the layout.
func Render(name string, p Page) ([]byte, error) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, p); err != nil {
		return nil, fmt.Errorf("render console page %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// AppTracks is an app with its release tracks, for the apps screen.
type AppTracks struct {
	App    release.App
	Tracks []release.Track
}
