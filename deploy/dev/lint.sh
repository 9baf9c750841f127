#!/usr/bin/env bash
# Static checks: gofmt, go vet, staticcheck (pinned; fetched through the Go module proxy on first
# use, without an entry in go.mod), bash -n on the scripts, and shellcheck when it is installed.
# Exits non-zero at the first check that fails. `make lint` and .ci/run call it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

STATICCHECK=${STATICCHECK:-honnef.co/go/tools/cmd/staticcheck@v0.8.2}

unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
	warn "gofmt needed:"
	printf '%s\n' "$unformatted" >&2
	exit 1
fi
say "go vet"
go vet ./...
say "staticcheck ($STATICCHECK)"
go run "$STATICCHECK" ./...
for f in deploy/dev/*.sh .ci/run; do
	bash -n "$f"
done
if command -v shellcheck >/dev/null; then
	shellcheck -x -P deploy/dev deploy/dev/*.sh .ci/run
fi
say "lint passed"
