#!/usr/bin/env bash
# Prepares a development machine (Debian/Ubuntu): ffmpeg and ffprobe for video processing, a C
# compiler for `go test -race`, make, Node.js and npm with the stock WatermelonDB client of the sync
# tests (sync/watermelontest), Chromium (and a Chinese font) for the install page's browser test,
# exiftool and libheif's heif-enc/heif-convert for the photo metadata tests (internal/photometa),
# bin/minio built from the version pinned in deploy/tools, and the Go modules. Idempotent: with
# everything present it only checks, and takes a second or two.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

command -v go >/dev/null || die "Go is not installed (see go.mod for the version)"

# System packages: one apt-get update and one install, only when something is missing.
packages=()
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then packages+=(ffmpeg); fi
if ! command -v gcc >/dev/null; then packages+=(gcc libc6-dev); fi # the race detector needs cgo
if ! command -v make >/dev/null; then packages+=(make); fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi # WatermelonDB tests
if [[ ! -x /usr/bin/chromium ]]; then packages+=(chromium); fi # the install page's browser test
if ! command -v wrk >/dev/null; then packages+=(wrk); fi # the deployed server's benchmark
if ! command -v haproxy >/dev/null && [[ ! -x /usr/sbin/haproxy ]]; then packages+=(haproxy); fi # the fault rig (make chaos)
if [[ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]]; then packages+=(fonts-wqy-microhei); fi # zh-CN text
if ! command -v exiftool >/dev/null; then packages+=(libimage-exiftool-perl); fi # photo location stripping tests
if ! command -v heif-enc >/dev/null || ! command -v heif-convert >/dev/null; then packages+=(libheif-examples); fi # HEIC photos for them
if ((${#packages[@]})); then
	command -v apt-get >/dev/null || die "missing ${packages[*]}: install them with your package manager"
	say "installing ${packages[*]} with apt-get"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
for tool in ffmpeg ffprobe gcc make node npm /usr/bin/chromium /usr/sbin/haproxy wrk exiftool heif-enc heif-convert; do
	command -v "$tool" >/dev/null || die "$tool is still missing after installing ${packages[*]}"
done
say "ffmpeg, ffprobe, gcc, make, node, npm, chromium, haproxy, wrk, exiftool, heif-enc and heif-convert present"

# The WatermelonDB client of the sync tests, at the versions of its package-lock.json: installed
# when node_modules is missing or older than the lock file (npm ci writes node_modules/.package-lock.json).
wmdb=sync/watermelontest
if [[ ! -f $wmdb/node_modules/.package-lock.json || $wmdb/package-lock.json -nt $wmdb/node_modules/.package-lock.json ]]; then
	say "installing $wmdb's npm packages (npm ci)"
	(cd "$wmdb" && npm ci --no-audit --no-fund --loglevel=error)
fi
say "$wmdb node_modules present (WatermelonDB $(awk -F'"' '$2 == "version" { print $4; exit }' "$wmdb/node_modules/@nozbe/watermelondb/package.json"))"

# axe-core for the console's accessibility checks (cmd/mportal/e2e_console_browser_test.go), at
# the version of its package-lock.json; a test-only node_modules, never embedded in the binary.
axe=internal/console/axetest
if [[ ! -f $axe/node_modules/.package-lock.json || $axe/package-lock.json -nt $axe/node_modules/.package-lock.json ]]; then
	say "installing $axe's npm packages (npm ci)"
	(cd "$axe" && npm ci --no-audit --no-fund --loglevel=error)
fi
say "$axe node_modules present (axe-core $(awk -F'"' '$2 == "version" { print $4; exit }' "$axe/node_modules/axe-core/package.json"))"

# bin/minio: rebuilt only when missing or built from another version than deploy/tools pins.
want=$(awk '$1 == "github.com/minio/minio" { print $2; exit }' deploy/tools/go.mod)
[[ -n $want ]] || die "deploy/tools/go.mod does not pin github.com/minio/minio"
have=$(go version -m bin/minio 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/minio/minio" { print $3; exit }' || true)
if [[ $have != "$want" ]]; then
	say "building bin/minio $want from deploy/tools (the first build takes about 5 minutes)"
	mkdir -p bin
	tmp="$REPO_ROOT/bin/minio.tmp.$$"
	trap 'rm -f "$tmp"' EXIT
	(cd deploy/tools && go build -o "$tmp" github.com/minio/minio)
	mv -f "$tmp" bin/minio
fi
say "bin/minio $want present"

say "downloading Go modules (cached after the first time)"
go mod download
say "setup done"
