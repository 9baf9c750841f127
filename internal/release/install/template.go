package install

import "html/template"

// pageTemplate is the whole page. It is small enough to read in one piece, and keeping CSS and
// markup inline means the page needs nothing but this server.
var pageTemplate = template.Must(template.New("install").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{if .AppName}}{{.AppName}}{{else}}{{.AppID}}{{end}} · Install</title>
<style>
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2129}
main{max-width:32rem;margin:0 auto;padding:1.5rem 1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
.card{background:#fff;border-radius:12px;padding:1rem 1.25rem;margin-bottom:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.meta{color:#6b7280;font-size:.9rem}
.btn{display:block;text-align:center;background:#1664ff;color:#fff;text-decoration:none;padding:.8rem;border-radius:8px;font-size:1.1rem;margin-top:1rem;border:0;width:100%}
.notes{font-size:.95rem;line-height:1.5}
input{display:block;width:100%;box-sizing:border-box;padding:.7rem;margin:.4rem 0 .8rem;border:1px solid #d0d3d9;border-radius:8px;font-size:1rem}
.msg{background:#fff4e5;color:#8a4b00;padding:.7rem;border-radius:8px}
.qr{text-align:center}
.qr img{width:220px;height:220px;image-rendering:pixelated}
#wechat{position:fixed;inset:0;background:rgba(0,0,0,.85);color:#fff;padding:2rem 1.5rem;font-size:1.15rem;line-height:1.6;text-align:right}
</style>
</head>
<body>
{{if .WeChat}}<div id="wechat" role="alert"><p>↗ Tap ··· at the top right and choose <b>Open in Browser</b>.</p><p>请点击右上角 ··· 选择「在浏览器打开」以下载安装。</p><p>WeChat cannot download or install apps.</p></div>{{end}}
<main>
<h1>{{if .AppName}}{{.AppName}}{{else}}{{.AppID}}{{end}}</h1>
{{if .Info}}
{{range .Offers}}
<section class="card">
<h2>{{.Label}} {{.Version}}</h2>
<p class="meta">Build {{.Build}} · {{.Size}} · {{.Published}} · channel {{.Channel}}</p>
{{if .Notes}}<div class="notes">{{.Notes}}</div>{{end}}
{{if .Href}}<a class="btn" href="{{.Href}}">{{.Button}}</a>{{end}}
</section>
{{else}}
<section class="card"><p>No build is available for you on this channel yet.</p></section>
{{end}}
{{if .Desktop}}<section class="card qr"><p>Scan with your phone to install:</p><img alt="QR code of this page" src="{{.QRPath}}"></section>{{end}}
{{else}}
<section class="card">
<h2>Sign in to install</h2>
{{if .LoginMessage}}<p class="msg" role="alert">{{.LoginMessage}}</p>{{end}}
<form method="post" action="/install/login">
<label>Employee number or e-mail<input name="login" autocomplete="username" required></label>
<label>Password<input name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{{.Next}}">
<button class="btn" type="submit">Sign in</button>
</form>
</section>
{{end}}
</main>
</body>
</html>
`))
