// Package install renders the mobile install page: a small, self-contained HTML page (inline
// CSS, no external assets, so it works on a LAN without internet) that offers a visitor the
// build for their phone, a QR code for desktop visitors and a login form for visitors without a
// session.
package install

import "strings"

// Device is the kind of device a visitor uses, as far as the User-Agent tells.
type Device int

// The devices the page tells apart.
const (
	Desktop Device = iota
	Android
	IPhone
)

// DetectDevice reads the visitor's device from a User-Agent header. iPadOS 13 and later
// present a desktop Safari User-Agent and so count as Desktop, which still shows the QR code.
func DetectDevice(userAgent string) Device {
	switch {
	case strings.Contains(userAgent, "iPhone"), strings.Contains(userAgent, "iPad"), strings.Contains(userAgent, "iPod"):
		return IPhone
	case strings.Contains(userAgent, "Android"):
		return Android
	}
	return Desktop
}

// InWeChat reports whether the page is open in WeChat's in-app browser, which blocks APK
// downloads and itms-services links: the visitor must open the page in the system browser.
func InWeChat(userAgent string) bool { return strings.Contains(userAgent, "MicroMessenger") }
