#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# libmptools (mptools(3)): the C examples of examples/c/ against the tools,
# and what the shared library exports.
load helpers/common

EX="$MP_TOP_BUILDDIR/examples/c"

# waiters N KIND NAME: `info --json` counts N waiters.
waiters() {
	"mp$2" info "$3" --json | grep -q "\"waiters\":$1[,}]"
}

@test "a C producer's messages are what a shell consumer gets, and the queue ends" {
	run -0 "$EX/producer" jobs one "two words" three
	run -0 mpqueue get jobs --follow
	[ "$output" = "$(printf 'one\ntwo words\nthree')" ]
	run -2 mpqueue get jobs
}

@test "a shell consumer waiting on an empty queue gets a C producer's message" {
	mpqueue create jobs
	start_bg sh -c "mpqueue get jobs >'$BATS_TEST_TMPDIR/out'"
	local getter=$BG_PID
	wait_until 10 waiters 1 queue jobs
	run -0 "$EX/producer" jobs hello
	wait_until 10 dead "$getter"
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = hello ]
}

@test "a C waiter blocks behind a shell holder and gets the lock when the shell releases it" {
	mpevent set go
	mplock acquire db --owner none
	start_bg sh -c "'$EX/waiter' go db >'$BATS_TEST_TMPDIR/out'"
	wait_until 10 waiters 1 lock db
	[ ! -s "$BATS_TEST_TMPDIR/out" ]
	mplock release db --owner none
	wait_until 10 file_has "$BATS_TEST_TMPDIR/out" "got db token 2"
	# and gives it back when done
	wait_until 10 dead "$BG_PID"
	run -1 mplock is-locked db
}

@test "a C waiter waits for the event a shell sets" {
	start_bg sh -c "'$EX/waiter' go db >'$BATS_TEST_TMPDIR/out'"
	wait_until 10 eval 'mpevent info go --json | grep -q "\"waiters\":1"'
	[ ! -s "$BATS_TEST_TMPDIR/out" ]
	mpevent set go
	wait_until 10 file_has "$BATS_TEST_TMPDIR/out" "got db token 1"
}

@test "a C waiter behind a shell holder times out with the timeout it was given" {
	mpevent set go
	mplock acquire db --owner none
	run -124 --separate-stderr "$EX/waiter" go db 0.2
	[[ "$stderr" == *"lock 'db'"* ]]
	run -0 mplock is-locked db
}

@test "a lock a C program holds is released when the program is killed" {
	mpevent set go
	mplock acquire db --owner none
	start_bg "$EX/waiter" go db
	wait_until 10 waiters 1 lock db
	kill -KILL "$BG_PID"
	wait_until 10 dead "$BG_PID"
	mplock release db --owner none
	# a waiter does not stay behind a dead owner
	run -0 mplock run db -t 5 -- true
}

@test "libmptools exports only the mpt_ functions of mptools.h, in version MPTOOLS_0" {
	local so="$MP_TOP_BUILDDIR/.libs/libmptools.so.0"
	[ -f "$so" ]
	run -0 nm -D --defined-only "$so"
	local syms
	syms=$(echo "$output" | awk '$2 == "T" { print $3 }' | sort)
	[ -n "$syms" ]
	# every exported function is versioned and public
	# (a test, not `! grep`: bats does not fail on a negated command in
	# the middle of a test)
	[ -z "$(echo "$syms" | grep -v '^mpt_[a-z_]*@@MPTOOLS_0$')" ]
	# and every function the header declares is exported
	local f
	for f in $(grep -o '\bmpt_[a-z_]*(' "$MP_TOP_SRCDIR/include/mptools.h" | tr -d '(' | sort -u); do
		echo "$syms" | grep -qx "$f@@MPTOOLS_0" || { echo "not exported: $f"; return 1; }
	done
}

@test "mptools.pc names the library and its header's directory" {
	run -0 env PKG_CONFIG_PATH="$MP_TOP_BUILDDIR" pkg-config --libs --cflags mptools
	[[ "$output" == *-lmptools* ]]
	[[ "$output" == *-I* ]]
	run -0 env PKG_CONFIG_PATH="$MP_TOP_BUILDDIR" pkg-config --modversion mptools
	[ "$output" = "$(mplock --version | awk 'NR == 1 { print $NF }')" ]
}
