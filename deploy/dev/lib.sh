# shellcheck shell=bash disable=SC2034 # the variables set here are used by the sourcing scripts
# Helpers shared by the deploy/dev scripts. Sourced, never run on its own.

# REPO_ROOT is the directory holding the main go.mod, whatever the caller's working directory.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

say() { printf '==> %s\n' "$*"; }
warn() { printf '!!  %s\n' "$*" >&2; }
die() {
	warn "$*"
	exit 1
}

# as_root runs a command as root: directly when we are root, else through sudo when there is one.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root to run: $* (run it as root, or install sudo)"
	fi
}

# Background components run in their own session (when setsid exists) so that Ctrl-C reaches only
# the foreground command; the scripts' traps then stop the components in order.
BG=()
if command -v setsid >/dev/null; then BG=(setsid); fi

# port_busy PORT succeeds when something accepts connections on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# random_port prints a port in 20000-60000; callers check it with port_busy and retry on a clash.
random_port() { echo $((20000 + (RANDOM * 32768 + RANDOM) % 40001)); }

# http_ok URL succeeds when GET URL answers 200. It uses curl when installed and otherwise speaks
# HTTP/1.0 over bash's /dev/tcp, so a bare machine can still wait for its components.
http_ok() {
	if command -v curl >/dev/null; then
		curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
		return
	fi
	local rest=${1#http://}
	local hostport=${rest%%/*} path=/${rest#*/}
	[[ $rest == */* ]] || path=/
	(
		exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
		IFS= read -r -t 2 status <&3 || exit 1
		[[ $status == "HTTP/1."?" 200"* ]]
	) 2>/dev/null
}

# wait_for SECONDS PID CMD... polls CMD until it succeeds (0), PID exits (2) or time runs out (1).
wait_for() {
	local seconds=$1 pid=$2
	shift 2
	local deadline=$((SECONDS + seconds))
	while ((SECONDS < deadline)); do
		kill -0 "$pid" 2>/dev/null || return 2
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

# stop_process PID asks a child to stop (SIGTERM), waits up to 10 s, then kills it.
stop_process() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# show_log FILE prints the end of a component's log, for when it failed to start.
show_log() {
	[[ -s $1 ]] || return 0
	warn "last lines of $1:"
	tail -n 20 "$1" >&2
}
