package install_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/install"
	"github.com/mportal/mportal/internal/release/updatecheck"
)

const (
	uaAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
	uaDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	uaWeChat  = uaAndroid + " MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN"
)

func info() *updatecheck.InstallInfo {
	at := time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)
	return &updatecheck.InstallInfo{
		AppID: "portal", AppName: `Portal <script>alert(1)</script>`,
		Android: &updatecheck.Offer{
			Platform: release.Android, Channel: "beta", PublishedAt: at,
			Build:        &release.Build{Build: 240, Version: "2.4.0", Size: 24 << 20},
			NotesHTML:    `<p>Faster start</p><script>alert(2)</script><a href="javascript:alert(3)">x</a>`,
			DownloadPath: "/v1/apps/portal/builds/android-240/download",
		},
		IOS: &updatecheck.Offer{
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
			want: []string{`id="wechat"`, "Open in Browser", "在浏览器打开"},
		},
		{
			name: "escapes the app name and strips scripts from the notes", ua: uaAndroid,
			want:    []string{"Portal &lt;script&gt;alert(1)&lt;/script&gt;"},
			notWant: []string{"<script>", "javascript:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := install.Page{AppID: "portal", AppName: info().AppName, Info: info(),
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
		html := render(t, install.Page{AppID: "portal", Next: `/install/portal?channel=beta"><script>`, LoginMessage: "Wrong password."})
		for _, w := range []string{`<form method="post" action="/install/login">`, `name="password" type="password"`, "Wrong password.",
			`value="/install/portal?channel=beta&#34;&gt;&lt;script&gt;"`} {
			if !strings.Contains(html, w) {
				t.Errorf("form lacks %q", w)
			}
		}
	})
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
