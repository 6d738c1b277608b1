# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by every .bats file: load it with `load helpers/common`.
#
# - Puts the build's src/ first in PATH (MP_TOP_BUILDDIR from make check,
#   else the in-tree build next to this file).
# - Gives each test its own store: MP_DIR="$BATS_TEST_TMPDIR/store".
# - wait_until: poll a condition with a deadline (never sleep-then-assert).
# - start_bg: start a background process, killed in teardown.
bats_require_minimum_version 1.5.0
# no test may hang CI: bats (>= 1.7) kills a test that runs longer
: "${BATS_TEST_TIMEOUT:=120}"
export BATS_TEST_TIMEOUT

: "${MP_TOP_BUILDDIR:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${MP_TOP_SRCDIR:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
PATH="$MP_TOP_BUILDDIR/src:$MP_TOP_BUILDDIR/tests/unit:$PATH"
UNIT="$MP_TOP_BUILDDIR/tests/unit"
# The system's python3 ahead of any other: a pyenv shim first in PATH
# costs ~0.4 s of CPU a call, and tests that start many python3 clients
# (60 connections in mpspawn-listen) then time out on a loaded machine.
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
	mkdir -p "$BATS_RUN_TMPDIR/python"
	ln -sfn /usr/bin/python3 "$BATS_RUN_TMPDIR/python/python3"
	PATH="$BATS_RUN_TMPDIR/python:$PATH"
fi

mp_common_setup() {
	export MP_DIR="$BATS_TEST_TMPDIR/store"
	# The suite runs a second time on a Redis server (tests/with-redis):
	# each test gets its own prefix there, as it gets its own MP_DIR here.
	if [ -n "${MP_TEST_STORE:-}" ]; then
		export MP_STORE="$MP_TEST_STORE?prefix=t$$-${BATS_TEST_NUMBER:-0}"
	fi
	BG_PIDS="$BATS_TEST_TMPDIR/bg.pids"
	: >"$BG_PIDS"
}

setup() {
	mp_common_setup
}

teardown() {
	mp_common_teardown
}

mp_common_teardown() {
	local p
	[ -n "${OTHER_BIN:-}" ] && rm -rf "$OTHER_BIN"
	[ -f "${BG_PIDS:-}" ] || return 0
	while read -r p; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done <"$BG_PIDS"
	return 0
}

# local_store_only: skips a test that is about the local store (files,
# modes, tmpfs, the mutex in shared memory) when the suite runs on Redis.
local_store_only() {
	[ -z "${MP_TEST_STORE:-}" ] || skip "about the local store only"
}

# redis_store_only: skips a test of the Redis store on the local one.
redis_store_only() {
	[ -n "${MP_TEST_STORE:-}" ] || skip "about the Redis store only"
}

# (Never a bare `wait` in a test: with BATS_TEST_TIMEOUT, bats' watchdog
# is a child of the test shell too; wait for the pids you started.)
#
# wait_until SECONDS COMMAND...: runs COMMAND every 20 ms until it succeeds;
# fails (printing what it waited for) if SECONDS pass first.
wait_until() {
	local limit=$1 start now
	shift
	start=$(date +%s%N)
	while ! "$@"; do
		now=$(date +%s%N)
		if (((now - start) / 1000000 > limit * 1000)); then
			echo "timed out after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.02
	done
}

# start_bg COMMAND...: runs COMMAND in the background with bats' fd 3
# closed (or bats would wait for it) and records its pid in $BG_PID and for
# teardown.
start_bg() {
	"$@" 3>&- &
	BG_PID=$!
	echo "$BG_PID" >>"$BG_PIDS"
}

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

dead() {
	! alive "$1"
}

# file_has FILE TEXT: FILE exists and contains TEXT.
file_has() {
	[ -f "$1" ] && grep -q -- "$2" "$1"
}

# lines_are FILE N: FILE exists and has N lines.  (For wait_until: an
# inline "$(wc -l <FILE)" would be expanded once, before the first poll.)
lines_are() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" = "$2" ]
}

# tools_for_uid UID: copies the build's tools to a new directory that
# every user can enter and sets OTHER_BIN to it (removed in teardown).
# Tests that run a tool as another user (setpriv --reuid) run it from
# there: the build tree may be where that user cannot go (a checkout in
# /root).  Skips the test, saying why, when UID cannot run them even
# there (a /tmp mounted noexec).
tools_for_uid() {
	local f
	OTHER_BIN=$(mktemp -d /tmp/mptools-bin.XXXXXX)
	chmod 0755 "$OTHER_BIN"
	for f in "$MP_TOP_BUILDDIR"/src/mp*; do
		[ -f "$f" ] && [ -x "$f" ] && cp "$f" "$OTHER_BIN/"
	done
	setpriv --reuid "$1" --regid "$1" --clear-groups "$OTHER_BIN/mplock" --version >/dev/null 2>&1 ||
		skip "uid $1 cannot run the tools even from $OTHER_BIN"
}
