#!/usr/bin/env bash
# Runs the Go tests against ONE embedded FerretDB (bin/devdb) and ONE MinIO shared by every test
# package, instead of each test binary starting its own (see internal/testenv). Both run on free
# loopback ports with temporary data directories, and are stopped and removed however we exit.
#
# Usage: deploy/dev/test.sh [--bench] [go test arguments...]
#   With no arguments it tests ./... ; arguments replace that (packages and/or flags), e.g.
#   deploy/dev/test.sh ./internal/mongodb/...   or   deploy/dev/test.sh -run TestClaim ./internal/...
#   GOTESTFLAGS adds flags after the defaults, e.g. GOTESTFLAGS='-v -run TestLogin'.
#   --bench runs benchmarks only (no -race): go test -run '^$' -bench . -benchmem.
#   MPORTAL_TEST_MINIO_BIN runs another MinIO binary than bin/minio (deploy/dev/datecheck.sh).
# Exits with go test's exit code.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

mode="test"
if [[ ${1:-} == --bench ]]; then
	mode=bench
	shift
fi
if (($# == 0)); then set -- ./...; fi
read -r -a extra <<<"${GOTESTFLAGS:-}"

bash deploy/dev/setup.sh

say "building bin/devdb"
go build -o "bin/devdb.tmp.$$" ./cmd/devdb
mv -f "bin/devdb.tmp.$$" bin/devdb

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mportal-test.XXXXXX")
devdb_pid=
minio_pid=
cleanup() {
	if [[ -n $devdb_pid ]]; then stop_process "$devdb_pid"; fi
	if [[ -n $minio_pid ]]; then stop_process "$minio_pid"; fi
	devdb_pid=""
	minio_pid=""
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The database picks its own free port and prints its URI as the first line on stdout.
mkdir "$tmp/db"
"${BG[@]}" bin/devdb -dir "$tmp/db" -addr 127.0.0.1:0 >"$tmp/devdb.out" 2>"$tmp/devdb.log" &
devdb_pid=$!
if ! wait_for 30 "$devdb_pid" test -s "$tmp/devdb.out"; then
	show_log "$tmp/devdb.log"
	die "bin/devdb did not print its address"
fi
IFS= read -r mongo_uri <"$tmp/devdb.out"
[[ $mongo_uri == mongodb://* ]] || die "bin/devdb printed '$mongo_uri' instead of a mongodb:// URI"
mongo_addr=${mongo_uri#mongodb://}
mongo_addr=${mongo_addr%%/*}
if ! wait_for 30 "$devdb_pid" port_busy "${mongo_addr##*:}"; then
	show_log "$tmp/devdb.log"
	die "bin/devdb does not accept connections on $mongo_addr"
fi
say "FerretDB (embedded, SQLite) at $mongo_uri"

# MinIO takes a port we choose; a port taken between the check and the bind makes it exit, so
# we try again with another.
# The credentials are internal/testenv's, read from its source so the two can never disagree.
testenv_const() { awk -F'"' -v name="$1" '$1 ~ "^[ \t]*" name "[ \t]*=" { print $2; exit }' internal/testenv/minio.go; }
minio_user=$(testenv_const MinIOAccessKey)
minio_password=$(testenv_const MinIOSecretKey)
[[ -n $minio_user && -n $minio_password ]] || die "cannot read the MinIO test credentials from internal/testenv/minio.go"
mkdir "$tmp/minio"
minio_addr=
for attempt in 1 2 3 4 5; do
	port=$(random_port)
	console=$(random_port)
	if [[ $port == "$console" ]] || port_busy "$port" || port_busy "$console"; then continue; fi
	MINIO_ROOT_USER=$minio_user MINIO_ROOT_PASSWORD=$minio_password MINIO_BROWSER=off MINIO_UPDATE=off \
		"${BG[@]}" "${MPORTAL_TEST_MINIO_BIN:-bin/minio}" server --quiet --address "127.0.0.1:$port" \
		--console-address "127.0.0.1:$console" "$tmp/minio" >"$tmp/minio.log" 2>&1 &
	minio_pid=$!
	status=0
	wait_for 60 "$minio_pid" http_ok "http://127.0.0.1:$port/minio/health/ready" || status=$?
	if ((status == 0)); then
		minio_addr=127.0.0.1:$port
		break
	fi
	stop_process "$minio_pid"
	minio_pid=
	if ((status == 1)); then
		show_log "$tmp/minio.log"
		die "MinIO did not become ready within 60 s"
	fi
	warn "MinIO exited at start (attempt $attempt, port $port); retrying on another port"
done
if [[ -z $minio_addr ]]; then
	show_log "$tmp/minio.log"
	die "MinIO could not be started"
fi
say "MinIO at $minio_addr"

export MPORTAL_TEST_MONGODB_URI=$mongo_uri
export MPORTAL_TEST_MINIO_ENDPOINT=$minio_addr
if [[ $mode == bench ]]; then
	cmd=(go test -run '^$' -bench . -benchmem -count=1 -timeout 60m)
else
	cmd=(go test -race -count=1 -timeout 30m)
fi
cmd+=("${extra[@]}" "$@")
say "running: ${cmd[*]}"
code=0
"${cmd[@]}" || code=$?

if ((code != 0)); then
	show_log "$tmp/devdb.log"
	show_log "$tmp/minio.log"
fi
cleanup
if ((code == 0)); then
	say "PASS: go test succeeded; shared FerretDB and MinIO stopped, temporary data removed"
else
	say "FAIL: go test exited with code $code; shared FerretDB and MinIO stopped, temporary data removed"
fi
exit "$code"
