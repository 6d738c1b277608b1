#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stopped processes (SIGSTOP, Ctrl-Z): a stopped waiter or a stopped
# streaming put/get must not wedge the others (issue 22, items 5 and 6).
load helpers/common

stopped() {
	[ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" = T ]
}

lock_waiters() {
	[ "$(mplock info "$1" --json | sed 's/.*"waiters":\([0-9]*\).*/\1/')" = "$2" ]
}

sem_waiters() {
	[ "$(mpsem info "$1" --json | sed 's/.*"waiters":\([0-9]*\).*/\1/')" = "$2" ]
}

@test "a stopped waiter at the head of a lock's queue does not keep the others waiting" {
	local_store_only
	mplock acquire L --owner none
	start_bg mplock run L -- touch "$BATS_TEST_TMPDIR/a"
	local a=$BG_PID
	wait_until 20 lock_waiters L 1
	kill -STOP "$a"
	wait_until 20 stopped "$a"
	start_bg mplock run L -- touch "$BATS_TEST_TMPDIR/b"
	local b=$BG_PID
	mplock release L
	# the waiter behind the stopped one goes
	wait_until 20 dead "$b"
	[ -e "$BATS_TEST_TMPDIR/b" ]
	[ ! -e "$BATS_TEST_TMPDIR/a" ]
	# and the queries agree with what an acquire does
	run -1 mplock is-locked L
	run -0 mplock acquire L -n --owner none
	run -0 mplock is-locked L
	run -0 mplock release L
	# the stopped one re-queues when it runs again, and gets it
	kill -CONT "$a"
	wait_until 20 dead "$a"
	[ -e "$BATS_TEST_TMPDIR/a" ]
}

@test "a stopped waiter at the head of a semaphore's queue does not keep the others waiting" {
	local_store_only
	mpsem create S -j 2
	mpsem acquire S --owner none
	mpsem acquire S --owner none
	start_bg mpsem run S -- touch "$BATS_TEST_TMPDIR/a"
	local a=$BG_PID
	wait_until 20 sem_waiters S 1
	kill -STOP "$a"
	wait_until 20 stopped "$a"
	mpsem release S
	# a free slot: value says 1, and an acquire gets it at once
	run -0 mpsem value S
	[ "$output" = 1 ]
	run -0 mpsem acquire S -n --owner none
	run -0 mpsem value S
	[ "$output" = 0 ]
	# a blocked waiter behind the stopped one goes when a slot frees
	start_bg mpsem run S -- touch "$BATS_TEST_TMPDIR/b"
	local b=$BG_PID
	wait_until 20 sem_waiters S 1
	mpsem release S
	wait_until 20 dead "$b"
	[ -e "$BATS_TEST_TMPDIR/b" ]
	kill -CONT "$a"
	wait_until 20 dead "$a"
	[ -e "$BATS_TEST_TMPDIR/a" ]
	run -0 mpsem value S
	[ "$output" = 1 ]
}
