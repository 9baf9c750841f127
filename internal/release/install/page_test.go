package install_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/install"
	"github.com/mportal/mportal/internal/release/updates"
)

const (
	uaAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
	uaDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	uaWeChat  = uaAndroid + " MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN"
)

func info() *updates.InstallInfo {
	at := time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)
	return &updates.InstallInfo{
		AppID: "portal", AppName: `Portal <script>alert(1)</script>`,
		Android: &updates.Offer{
			Platform: release.Android, Channel: "beta", PublishedAt: at,
			Build:        &release.Build{Build: 240, Version: "2.4.0", Size: 24 << 20},
			NotesHTML:    `<p>Faster start</p><script>alert(2)</script><a href="javascript:alert(3)">x</a>`,
			DownloadPath: "/v1/apps/portal/builds/android-240/download",
		},
		IOS: &updates.Offer{
			Platform: release.IOS, Channel: "beta", PublishedAt: at,
			Build:      &release.Build{Build: 57, Version: "2.4.0", Size: 30 << 20},
			InstallURL: "itms-services://?action=download-manifest&url=https%3A%2F%2Fportal.example.com%2Fm.plist%3Fa%3D1%26b%3D2",
		},
	}
}

func render(t *testing.T, p install.Page) string {
	t.Helper()
	body, err := install.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func TestRender(t *testing.T) {
	tests := []struct {
		name    string
		ua      string
		page    install.Page
		want    []string
		notWant []string
	}{
		{
			name: "offers Android phones the APK download", ua: uaAndroid,
			want:    []string{`href="/v1/apps/portal/builds/android-240/download"`, "Download APK", "Android 2.4.0", "24.0 MB", "Build 240", "<p>Faster start</p>"},
			notWant: []string{"itms-services", "qr.png", `id="wechat"`},
		},
		{
			name: "offers iPhones the itms-services link", ua: uaIPhone,
			want:    []string{`href="itms-services://?action=download-manifest&amp;url=https%3A%2F%2Fportal.example.com%2Fm.plist%3Fa%3D1%26b%3D2"`, "iOS 2.4.0"},
			notWant: []string{"Download APK", "qr.png"},
		},
		{
			name: "shows desktop visitors a QR code and no itms-services link", ua: uaDesktop,
			want:    []string{`<img alt="QR code of this page" src="/install/portal/qr.png?channel=beta">`, "Download APK", "iOS 2.4.0"},
			notWant: []string{"itms-services"},
		},
		{
			name: "asks WeChat users to open the system browser", ua: uaWeChat,
			want: []string{`id="wechat"`, "Open in Browser"},
		},
		{
			name: "escapes the app name and strips scripts from the notes", ua: uaAndroid,
			want:    []string{"Portal &lt;script&gt;alert(1)&lt;/script&gt;"},
			notWant: []string{"<script>", "javascript:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := install.Page{AppID: "portal", AppName: info().AppName, Info: info(), Locale: install.En,
				Device: install.DetectDevice(tt.ua), WeChat: install.InWeChat(tt.ua), QRPath: "/install/portal/qr.png?channel=beta"}
			html := render(t, p)
			for _, w := range tt.want {
				if !strings.Contains(html, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(html, w) {
					t.Errorf("page contains %q", w)
				}
			}
		})
	}
	t.Run("shows the login form without a session", func(t *testing.T) {
		html := render(t, install.Page{AppID: "portal", AppName: "Portal", Locale: install.En, Next: `/install/portal?channel=beta"><script>`,
			Message: install.WrongPassword, CSRFToken: "tok\"en"})
		for _, w := range []string{`<form method="post" action="/install/login">`, `name="password" type="password"`, "Wrong employee number",
			`value="/install/portal?channel=beta&#34;&gt;&lt;script&gt;"`, `name="csrf_token" value="tok&#34;en"`, "<title>Portal · Install</title>"} {
			if !strings.Contains(html, w) {
				t.Errorf("form lacks %q", w)
			}
		}
	})
}

func TestRenderSpeaksTheVisitorsLanguage(t *testing.T) {
	t.Run("in Chinese", func(t *testing.T) {
		html := render(t, install.Page{AppID: "portal", AppName: "Portal", Info: info(), Locale: install.ZhCN, Device: install.Android,
			WeChat: true, IconPath: "/install/portal/icon.png"})
		for _, w := range []string{`<html lang="zh-CN">`, "下载 APK", "构建 240", "渠道 beta", "在浏览器打开", `<img id="icon" alt="应用图标" src="/install/portal/icon.png">`} {
			if !strings.Contains(html, w) {
				t.Errorf("page lacks %q", w)
			}
		}
		if strings.Contains(html, "Download APK") || strings.Contains(html, "Open in Browser") {
			t.Error("a Chinese page has English words")
		}
	})
	t.Run("titles the sign-in form with the app's name, never its id", func(t *testing.T) {
		html := render(t, install.Page{AppID: "portal", AppName: "员工门户", Message: install.TooManyAttempts, RetryAfter: 42})
		for _, w := range []string{"<title>员工门户 · 安装</title>", "登录后安装", "请 42 秒后再试"} {
			if !strings.Contains(html, w) {
				t.Errorf("page lacks %q", w)
			}
		}
		if html := render(t, install.Page{AppID: "portal"}); !strings.Contains(html, "<title>安装</title>") {
			t.Errorf("an unknown app's form shows its id:\n%s", html)
		}
	})
}

func TestNegotiateLocale(t *testing.T) {
	for header, want := range map[string]install.Locale{
		"zh-CN,zh;q=0.9,en;q=0.8": install.ZhCN, "en-US,en;q=0.9": install.En, "zh-TW": install.ZhCN, "": install.ZhCN,
		"fr-FR,en;q=0.5": install.En, "fr": install.ZhCN, "en;q=0.4,zh;q=0.8": install.ZhCN, "EN-gb": install.En,
	} {
		if got := install.NegotiateLocale(header); got != want {
			t.Errorf("NegotiateLocale(%q) = %q, want %q", header, got, want)
		}
	}
}

func TestCSPAllowsNoInlineScript(t *testing.T) {
	for _, w := range []string{"default-src 'self'", "script-src 'none'", "style-src 'sha256-", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(install.CSP, w) {
			t.Errorf("CSP %q lacks %q", install.CSP, w)
		}
	}
	if strings.Contains(install.CSP, "unsafe-inline") {
		t.Errorf("CSP %q allows inline code", install.CSP)
	}
	// The page's one <style> element must be the one the hash allows, and it may have no
	// style attributes, which a hash does not cover.
	html := render(t, install.Page{AppID: "portal", Info: info(), Device: install.Desktop, QRPath: "/q"})
	start, end := strings.Index(html, "<style>")+len("<style>"), strings.Index(html, "</style>")
	sum := sha256.Sum256([]byte(html[start:end]))
	if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(install.CSP, want) {
		t.Errorf("CSP %q does not allow the page's style sheet (%s)", install.CSP, want)
	}
	if strings.Count(html, "<style") != 1 || strings.Contains(html, "style=") || strings.Contains(html, "<script") {
		t.Errorf("the page has inline code the CSP blocks:\n%s", html)
	}
}

func TestDetectDevice(t *testing.T) {
	for ua, want := range map[string]install.Device{uaAndroid: install.Android, uaIPhone: install.IPhone, uaDesktop: install.Desktop, "": install.Desktop,
		"Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X)": install.IPhone} {
		if got := install.DetectDevice(ua); got != want {
			t.Errorf("DetectDevice(%q) = %v, want %v", ua, got, want)
		}
	}
}

func TestQRCodePNG(t *testing.T) {
	b, err := install.QRCodePNG("https://portal.example.com/install/portal?channel=beta")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() < 100 || img.Bounds().Dx() != img.Bounds().Dy() {
		t.Fatalf("QR image is %v", img.Bounds())
	}
}
