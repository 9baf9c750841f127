#!/usr/bin/env bash
# Runs the test suite as if today were N days from now (default 400), to find tests that mix a
# fixed test date with the wall clock: such a test passes today and breaks on some later day.
#
# It shifts time.Now in every Go program of the run, the tests, bin/devdb and a MinIO built for
# the purpose (bin/minio-shifted, cached), so that presigned URLs still agree with the storage's
# clock. The shift is a one-line change to a copy of this Go installation's time.Now, made in a
# temporary directory and handed to the go command as an -overlay; the repository holds no copy
# of Go's source. Node (the WatermelonDB client) keeps the real time, like a phone would.
#
# Usage: deploy/dev/datecheck.sh [days] [go test arguments...]   e.g. deploy/dev/datecheck.sh 400 ./push/
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

days=400
if [[ ${1:-} =~ ^-?[0-9]+$ ]]; then
	days=$1
	shift
fi

bash deploy/dev/setup.sh

overlay=$(mktemp -d "${TMPDIR:-/tmp}/mportal-datecheck.XXXXXX")
trap 'rm -rf "$overlay"' EXIT
goroot=$(go env GOROOT)
# time.Now starts with `sec, nsec, mono := runtimeNow()`; the copy adds the shift right after it.
awk '{ print } /^func Now\(\) Time \{/ { want = 1; next } want && /runtimeNow\(\)/ { print "\tsec += shiftSeconds()"; want = 0 }' \
	"$goroot/src/time/time.go" >"$overlay/time.go"
grep -q 'sec += shiftSeconds()' "$overlay/time.go" || die "could not find time.Now in $goroot/src/time/time.go"
cat >"$overlay/zz_shift.go" <<'GO'
package time

import (
	"sync"
	"syscall"
)

var (
	shiftOnce sync.Once
	shiftSec  int64
)

// shiftSeconds is MPORTAL_DATECHECK_DAYS days in seconds (deploy/dev/datecheck.sh).
func shiftSeconds() int64 {
	shiftOnce.Do(func() {
		v, _ := syscall.Getenv("MPORTAL_DATECHECK_DAYS")
		neg := len(v) > 0 && v[0] == '-'
		if neg {
			v = v[1:]
		}
		var n int64
		for _, c := range v {
			if c < '0' || c > '9' {
				return
			}
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		shiftSec = n * 86400
	})
	return shiftSec
}
GO
printf '{"Replace":{"%s":"%s","%s":"%s"}}\n' \
	"$goroot/src/time/time.go" "$overlay/time.go" "$goroot/src/time/zz_shift.go" "$overlay/zz_shift.go" >"$overlay/overlay.json"

# A MinIO whose clock moves with ours (S3 signatures carry the time), built once per version.
want=$(awk '$1 == "github.com/minio/minio" { print $2; exit }' deploy/tools/go.mod)
have=$(go version -m bin/minio-shifted 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/minio/minio" { print $3; exit }' || true)
if [[ $have != "$want" ]]; then
	say "building bin/minio-shifted $want (about 5 minutes the first time)"
	(cd deploy/tools && go build -overlay "$overlay/overlay.json" -o "$REPO_ROOT/bin/minio-shifted.tmp" github.com/minio/minio)
	mv -f bin/minio-shifted.tmp bin/minio-shifted
fi

say "running the tests $days days from now"
MPORTAL_DATECHECK_DAYS=$days GOFLAGS="-overlay=$overlay/overlay.json" MPORTAL_TEST_MINIO_BIN=bin/minio-shifted \
	bash deploy/dev/test.sh "$@"
