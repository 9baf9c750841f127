package console

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/auth"
)

// TestRegisterRefusesADuplicateKey checks that a screen cannot take a key another screen has:
// the second registration panics instead of replacing the first one's words.
func TestRegisterRefusesADuplicateKey(t *testing.T) {
	before := messages["approvals"]["en"]
	defer func() {
		if recover() == nil {
			t.Error("registering the key approvals a second time did not panic")
		}
		if got := messages["approvals"]["en"]; got != before {
			t.Errorf("the refused registration changed approvals to %q", got)
		}
	}()
	register(map[string]map[string]string{"approvals": {"zh-CN": "x", "en": "x"}})
}

// TestKeysOnceTakenByTwoScreensShowEachScreensWords checks the words of the keys two screens
// used to share, on the pages that show them, in both languages.
func TestKeysOnceTakenByTwoScreensShowEachScreensWords(t *testing.T) {
	ops := &auth.Principal{UserID: "u1", Roles: []auth.Role{auth.RoleEmployee, auth.RoleOps}}
	for _, c := range []struct{ locale, menu string }{{"en", ">Approvals</a>"}, {"zh-CN", ">审批</a>"}} {
		b, err := Render("denied", Page{Locale: c.locale, Title: "denied", Viewer: ops})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `<a href="/console/approvals">`) || !strings.Contains(string(b), c.menu) {
			t.Errorf("%s: the menu's approvals entry is not %q:\n%s", c.locale, c.menu, b)
		}
	}
	for _, c := range []struct{ template, key, en, zh string }{
		{"dashboard.html", "dash_approvals", "Approvals (last 30 days)", "审批（最近 30 天）"},
		{"announce.html", "audience", "Audience", "受众"},
		{"announce_compose.html", "audience", "Audience", "受众"},
		{"apps_app.html", "channel_audience", "By role / department", "按角色 / 部门"},
		{"announce_compose.html", "an_confirm_publish", "Confirm and publish", "确认发布"},
	} {
		b, err := fs.ReadFile(templateFS, "templates/"+c.template)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"`+c.key+`"`) {
			t.Errorf("%s does not use %s", c.template, c.key)
		}
		if T("en", c.key) != c.en || T("zh-CN", c.key) != c.zh {
			t.Errorf("%s reads %q / %q, want %q / %q", c.key, T("en", c.key), T("zh-CN", c.key), c.en, c.zh)
		}
	}
	if T("en", "confirm_publish") != "Publish" {
		t.Errorf("the apps screens' confirm_publish reads %q", T("en", "confirm_publish"))
	}
}

// TestEveryTemplateSpeaksBothLanguages checks that every message a template names exists in
// zh-CN and en, so no page shows a bare key.
func TestEveryTemplateSpeaksBothLanguages(t *testing.T) {
	key := regexp.MustCompile(`(?:\{\{|\()t (?:\$l|\$\.Locale|\.Locale) "([a-z_0-9]+)"`)
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		b, err := fs.ReadFile(templateFS, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			for _, loc := range []string{"zh-CN", "en"} {
				if strings.TrimSpace(messages[m[1]][loc]) == "" {
					t.Errorf("%s: message %q has no %s text", name, m[1], loc)
				}
			}
		}
	}
}
