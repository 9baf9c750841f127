#!/usr/bin/env bash
# `make run`: runs mportal locally in the foreground with the embedded database under
# $MPORTAL_DATA_DIR (default ./data) and a MinIO on 127.0.0.1:9000 (console :9001) keeping its
# data in $MPORTAL_DATA_DIR/minio. Set MPORTAL_MINIO_ENDPOINT (and the MPORTAL_MINIO_ACCESS_KEY
# and MPORTAL_MINIO_SECRET_KEY) to use an existing MinIO instead. Any MPORTAL_* variable is passed
# through; arguments are passed to `mportal serve`. Ctrl-C stops mportal, then MinIO.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

bash deploy/dev/setup.sh

export MPORTAL_DATA_DIR=${MPORTAL_DATA_DIR:-./data}
listen=${MPORTAL_LISTEN_ADDR:-127.0.0.1:8080}
base=${MPORTAL_PUBLIC_BASE_URL:-http://$listen}
base=${base%/}
# Metrics have their own listener, never the API port; for development, next to the API.
export MPORTAL_METRICS_ADDR=${MPORTAL_METRICS_ADDR:-127.0.0.1:9464}
mkdir -p "$MPORTAL_DATA_DIR"

minio_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n $minio_pid ]]; then
		say "stopping MinIO"
		stop_process "$minio_pid"
		minio_pid=
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

minio_console=
if [[ -z ${MPORTAL_MINIO_ENDPOINT:-} ]]; then
	export MPORTAL_MINIO_ENDPOINT=127.0.0.1:9000
	export MPORTAL_MINIO_ACCESS_KEY=${MPORTAL_MINIO_ACCESS_KEY:-minioadmin}
	export MPORTAL_MINIO_SECRET_KEY=${MPORTAL_MINIO_SECRET_KEY:-minioadmin}
	if port_busy 9000 || port_busy 9001; then
		die "127.0.0.1:9000 or :9001 is in use (a MinIO still running?). Stop it, or use it by setting" \
			"MPORTAL_MINIO_ENDPOINT=127.0.0.1:9000 and its MPORTAL_MINIO_ACCESS_KEY/MPORTAL_MINIO_SECRET_KEY."
	fi
	minio_log=$MPORTAL_DATA_DIR/minio.log
	mkdir -p "$MPORTAL_DATA_DIR/minio"
	say "starting MinIO on 127.0.0.1:9000 (data in $MPORTAL_DATA_DIR/minio, log in $minio_log)"
	# Browsers (a web player with hls.js) fetch presigned segments from MinIO cross-origin: allow
	# the origin mportal is served from; set MINIO_API_CORS_ALLOW_ORIGIN for others (comma-separated).
	MINIO_API_CORS_ALLOW_ORIGIN=${MINIO_API_CORS_ALLOW_ORIGIN:-$base} \
		MINIO_ROOT_USER=$MPORTAL_MINIO_ACCESS_KEY MINIO_ROOT_PASSWORD=$MPORTAL_MINIO_SECRET_KEY MINIO_UPDATE=off \
		"${BG[@]}" bin/minio server --quiet --address 127.0.0.1:9000 --console-address 127.0.0.1:9001 \
		"$MPORTAL_DATA_DIR/minio" >>"$minio_log" 2>&1 &
	minio_pid=$!
	if ! wait_for 60 "$minio_pid" http_ok http://127.0.0.1:9000/minio/health/ready; then
		show_log "$minio_log"
		die "MinIO did not become ready"
	fi
	minio_console="http://127.0.0.1:9001 (user $MPORTAL_MINIO_ACCESS_KEY)"
else
	say "using the MinIO at $MPORTAL_MINIO_ENDPOINT"
fi

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
say "building bin/mportal $version"
go build -ldflags "-X main.version=$version" -o bin/mportal ./cmd/mportal

cat <<INFO
==> mportal $version
    API        $base/v1
    Console    $base/console/   (ops and admins sign in here)
    OpenAPI    $base/v1/openapi.yaml
    Health     $base/healthz   readiness: $base/readyz   metrics: http://$MPORTAL_METRICS_ADDR/metrics
    MinIO      http://$MPORTAL_MINIO_ENDPOINT${minio_console:+   console: $minio_console}
    Data       $MPORTAL_DATA_DIR (embedded database unless MPORTAL_MONGODB_URI is set, signing keys)
    On first start mportal prints the seeded admin's one-time password. Ctrl-C stops everything.
INFO
code=0
bin/mportal serve "$@" || code=$?
exit "$code"
