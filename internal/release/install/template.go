package install

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
)

// pageCSS is the page's only style sheet. It is inlined so that the page needs nothing but
// this server, and allowed by its hash in CSP, so the page runs no inline script and no
// inline style but this one.
const pageCSS = `
*,*::before,*::after{box-sizing:border-box}
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2129}
main{max-width:32rem;margin:0 auto;padding:1.5rem 1rem}
header{display:flex;align-items:center;gap:.75rem;margin:.5rem 0 1rem}
header img{width:56px;height:56px;border-radius:12px;flex:none}
h1{font-size:1.5rem;margin:0;overflow-wrap:anywhere}
h2{overflow-wrap:anywhere}
.card{background:#fff;border-radius:12px;padding:1rem 1.25rem;margin-bottom:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08);overflow-wrap:anywhere}
.meta{color:#6b7280;font-size:.9rem}
.btn{display:block;width:100%;max-width:100%;text-align:center;background:#1664ff;color:#fff;text-decoration:none;padding:.8rem;border-radius:8px;font-size:1.1rem;margin-top:1rem;border:0}
.notes{font-size:.95rem;line-height:1.5}
.notes img{max-width:100%;height:auto}
label{display:block}
input{display:block;width:100%;padding:.7rem;margin:.4rem 0 .8rem;border:1px solid #d0d3d9;border-radius:8px;font-size:1rem}
.msg{background:#fff4e5;color:#8a4b00;padding:.7rem;border-radius:8px}
.qr{text-align:center}
.qr img{width:220px;height:220px;max-width:100%;image-rendering:pixelated}
#wechat{position:fixed;inset:0;background:rgba(0,0,0,.85);color:#fff;padding:2rem 1.5rem;font-size:1.15rem;line-height:1.6;text-align:right}
`

// CSP is the Content-Security-Policy of every install page: no script at all, the one style
// sheet above (by its hash), images (icon, QR code) and the form only from this server, and
// no framing.
var CSP = "default-src 'self'; script-src 'none'; style-src '" + styleHash() + "'; img-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// pageTemplate is the whole page. It is small enough to read in one piece.
var pageTemplate = template.Must(template.New("install").Parse(`<!doctype html>
<html lang="{{.T.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{if .AppName}}{{.AppName}} · {{end}}{{.T.Install}}</title>
<style>` + pageCSS + `</style>
</head>
<body>
{{if .WeChat}}<div id="wechat" role="alert">{{range .T.WeChat}}<p>{{.}}</p>{{end}}</div>{{end}}
<main>
<header>{{if .IconPath}}<img id="icon" alt="{{.T.IconAlt}}" src="{{.IconPath}}">{{end}}<h1>{{if .AppName}}{{.AppName}}{{else}}{{.T.Install}}{{end}}</h1></header>
{{if .Info}}
{{range .Offers}}
<section class="card offer">
<h2>{{.Label}} {{.Version}}</h2>
<p class="meta">{{$.T.Build}} {{.Build}} · {{.Size}} · {{.Published}} · {{$.T.Channel}} {{.Channel}}</p>
{{if .Notes}}<div class="notes">{{.Notes}}</div>{{end}}
{{if .Href}}<a class="btn" href="{{.Href}}">{{.Button}}</a>{{end}}
</section>
{{else}}
<section class="card"><p>{{.T.NoBuild}}</p></section>
{{end}}
{{if .Desktop}}<section class="card qr"><p>{{.T.ScanQR}}</p><img alt="{{.T.QRAlt}}" src="{{.QRPath}}"></section>{{end}}
{{else}}
<section class="card">
<h2>{{.T.SignInTitle}}</h2>
{{if .MessageText}}<p class="msg" role="alert">{{.MessageText}}</p>{{end}}
<form method="post" action="/install/login">
<label>{{.T.Login}}<input name="login" autocomplete="username" required></label>
<label>{{.T.Password}}<input name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{{.Next}}">
<input type="hidden" name="csrf_token" value="{{.CSRFToken}}">
<button class="btn" type="submit">{{.T.SignIn}}</button>
</form>
</section>
{{end}}
</main>
</body>
</html>
`))
