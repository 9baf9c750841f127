package install

import (
	"strconv"
	"strings"

	"github.com/mportal/mportal/internal/i18n"
)

// Locale is a language the install page speaks.
type Locale string

// The page's languages. Chinese comes first: the people who install are mostly Chinese-speaking
// staff, and it is i18n's first fallback, so the page and the release notes agree.
const (
	ZhCN Locale = "zh-CN"
	En   Locale = "en"
)

// NegotiateLocale picks the page's language from an Accept-Language header: the first
// language range, by quality and then order, that is Chinese or English. Anything else, or
// no header, gets i18n's first fallback (zh-CN).
func NegotiateLocale(acceptLanguage string) Locale {
	best, bestQ := Locale(""), 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		var l Locale
		switch primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-"); primary {
		case "zh":
			l = ZhCN
		case "en":
			l = En
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	if best == "" {
		return Locale(i18n.Locales[0])
	}
	return best
}

// Message is a notice shown above the login form.
type Message int

// The login form's notices.
const (
	NoMessage       Message = iota
	SessionEnded            // the install cookie's session is over
	ChangePassword          // the account must change its one-time password in the app first
	WrongPassword           // the sign-in failed
	TooManyAttempts         // the sign-in is throttled; Page.RetryAfter says for how long
	FormExpired             // the form's anti-forgery token is missing or stale
)

// texts are the page's own words in one language.
type texts struct {
	Lang, Install, SignInTitle, Login, Password, SignIn, DownloadAPK, InstallIOS string
	Build, Channel, NoBuild, ScanQR, QRAlt, IconAlt                              string
	WeChat                                                                       []string
	messages                                                                     map[Message]string
}

var catalog = map[Locale]*texts{
	ZhCN: {
		Lang: "zh-CN", Install: "安装", SignInTitle: "登录后安装", Login: "工号或邮箱", Password: "密码", SignIn: "登录",
		DownloadAPK: "下载 APK", InstallIOS: "安装", Build: "构建", Channel: "渠道", NoBuild: "此渠道暂时没有可供您安装的版本。",
		ScanQR: "用手机扫码安装：", QRAlt: "本页面的二维码", IconAlt: "应用图标",
		WeChat: []string{"请点击右上角 ··· 选择「在浏览器打开」。", "微信内无法下载或安装应用。"},
		messages: map[Message]string{
			SessionEnded:    "登录已过期，请重新登录。",
			ChangePassword:  "请先在 App 中登录并修改一次性密码。",
			WrongPassword:   "工号、邮箱或密码错误。",
			TooManyAttempts: "尝试次数过多，请 %d 秒后再试。",
			FormExpired:     "登录表单已过期，请重新提交。",
		},
	},
	En: {
		Lang: "en", Install: "Install", SignInTitle: "Sign in to install", Login: "Employee number or e-mail", Password: "Password",
		SignIn: "Sign in", DownloadAPK: "Download APK", InstallIOS: "Install", Build: "Build", Channel: "channel",
		NoBuild: "No build is available for you on this channel yet.", ScanQR: "Scan with your phone to install:",
		QRAlt: "QR code of this page", IconAlt: "App icon",
		WeChat: []string{"Tap ··· at the top right and choose Open in Browser.", "WeChat cannot download or install apps."},
		messages: map[Message]string{
			SessionEnded:    "Your session has ended; please sign in again.",
			ChangePassword:  "Sign in to the app first and change your one-time password there.",
			WrongPassword:   "Wrong employee number, e-mail or password.",
			TooManyAttempts: "Too many attempts. Try again in %d seconds.",
			FormExpired:     "The sign-in form expired; please submit it again.",
		},
	},
}

func textsFor(l Locale) *texts {
	if t := catalog[l]; t != nil {
		return t
	}
	return catalog[ZhCN]
}
