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
	mplock acquire L --owner none
	start_bg mplock run L -- touch "$BATS_TEST_TMPDIR/a"
	local a=$BG_PID
	wait_until 20 lock_waiters L 1
	kill -STOP "$a"
	wait_until 20 stopped "$a"
	mplock release L
	# the queries agree with what an acquire does, at once
	run -1 mplock is-locked L
	run -0 mplock acquire L -n --owner none
	run -0 mplock is-locked L
	# a waiter that comes behind the stopped one goes when it is released
	start_bg mplock run L -- touch "$BATS_TEST_TMPDIR/b"
	local b=$BG_PID
	wait_until 20 lock_waiters L 1
	mplock release L
	wait_until 20 dead "$b"
	[ -e "$BATS_TEST_TMPDIR/b" ]
	[ ! -e "$BATS_TEST_TMPDIR/a" ]
	# the stopped one re-queues when it runs again, and gets it
	kill -CONT "$a"
	wait_until 20 dead "$a"
	[ -e "$BATS_TEST_TMPDIR/a" ]
	run -1 mplock is-locked L
}

@test "a stopped waiter at the head of a semaphore's queue does not keep the others waiting" {
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

sleeping() {
	[ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" = S ]
}

# exits_with STATUS PID: waits for background process PID (a child of this
# shell: never call it in a subshell), which must exit with STATUS.
exits_with() {
	local st=0
	wait "$2" || st=$?
	[ "$st" = "$1" ] || {
		echo "pid $2 exited $st, not $1"
		return 1
	}
}

@test "a process stopped inside a queue's internal section: -n exits 75, -t 124, INT 130, and the rest wait for it" {
	local_store_only
	mpqueue put Q first
	start_bg t-store stop-locked queue Q
	local s=$BG_PID
	wait_until 20 stopped "$s"
	# busy is silent, as with flock -n; -v names the stopped process
	run -75 --separate-stderr mpqueue get Q -n
	[ -z "$stderr" ]
	run -75 --separate-stderr mpqueue -v get Q -n
	[[ $stderr == *"stopped"* ]]
	[[ $stderr == *"$s"* ]]
	run -75 mpqueue put Q -n x
	run -75 mpqueue size Q -n
	run -124 mpqueue get Q -t 0.2
	run -124 mpqueue put Q -t 0.2 x
	run -124 mpqueue size Q -t 0.2
	# Ctrl-C on a call that waits for it
	start_bg mpqueue size Q
	local w=$BG_PID
	wait_until 20 sleeping "$w"
	kill -INT "$w"
	exits_with 130 "$w"
	# a call with no -n or -t waits until the stopped process goes on
	mpqueue get Q >"$BATS_TEST_TMPDIR/out" 3>&- &
	local g=$!
	wait_until 20 sleeping "$g"
	kill -CONT "$s"
	exits_with 0 "$g"
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = first ]
}

@test "a process stopped inside a lock's or a semaphore's internal section: -n exits 75 and -t 124" {
	local_store_only
	mplock create L
	mpsem create S
	start_bg t-store stop-locked lock L
	local l=$BG_PID
	start_bg t-store stop-locked sem S
	local s=$BG_PID
	wait_until 20 stopped "$l"
	wait_until 20 stopped "$s"
	run -75 mplock acquire L -n
	run -75 mplock is-locked L -n
	run -124 mplock run L -t 0.2 true
	run -75 mpsem acquire S -n
	run -124 mpsem value S -t 0.2
	kill -CONT "$l" "$s"
	run -0 mplock run L -n true
	run -0 mpsem value S -n
	[ "$output" = 1 ]
}

# make_x KIND: makes object X of KIND.
make_x() {
	case $1 in
	lock) mplock create X ;;
	sem) mpsem create X ;;
	event) mpevent create X ;;
	queue) mpqueue create X ;;
	var) mpvar set X 1 ;;
	spawn) mpspawn --name X true ;;
	esac
}

@test "rm removes an object at once when a stopped process is inside it or its mutex is stuck" {
	local_store_only
	local t k
	for t in mplock mpsem mpevent mpqueue mpspawn mpvar; do
		k=${t#mp}
		make_x "$k"
		start_bg t-store stop-locked "$k" X
		wait_until 20 stopped "$BG_PID"
		run -0 timeout 5 "$t" rm X
		[ ! -e "$MP_DIR/$k.X" ]
		kill -KILL "$BG_PID"
		make_x "$k"
		t-store stuck-mutex "$k" X
		run -0 timeout 5 "$t" rm X
		[ ! -e "$MP_DIR/$k.X" ]
	done
}

@test "rm of an object with a stopped process inside wakes its waiters, which exit 66" {
	local_store_only
	mpqueue create Q
	start_bg mpqueue get Q
	local g=$BG_PID
	wait_until 20 sleeping "$g"
	start_bg t-store stop-locked queue Q
	local s=$BG_PID
	wait_until 20 stopped "$s"
	run -0 timeout 5 mpqueue rm Q
	exits_with 66 "$g"
}

# stop_rounds SIG N: N times, stops the streaming put ($put) and get ($get)
# with SIG and counts the rounds in which a call on the queue was busy.
stop_rounds() {
	local sig=$1 n=$2 i p busy=0
	for ((i = 0; i < n; i++)); do
		for p in $put $get; do
			kill "-$sig" "$p"
			wait_until 20 stopped "$p"
		done
		mpqueue size Q -n >/dev/null || busy=$((busy + 1))
		kill -CONT $put $get
	done
	echo "$busy"
}

queue_grows() {
	[ "$(mpqueue size "$1")" -gt 100 ]
}

@test "Ctrl-Z (SIGTSTP) never stops a streaming put or get --follow inside the queue" {
	local_store_only
	mpqueue create Q --max-items 100000
	start_bg sh -c 'yes "a line of the stream" | mpqueue put Q'
	local sh=$BG_PID
	wait_until 20 pgrep -P "$sh" -x mpqueue >/dev/null
	put=$(pgrep -P "$sh" -x mpqueue)
	start_bg sh -c 'exec mpqueue get Q --follow >/dev/null'
	get=$BG_PID
	wait_until 20 queue_grows Q
	run -0 stop_rounds TSTP 60
	[ "$output" = 0 ]
	# (SIGSTOP cannot be caught: there a call is busy now and then, -n 75)
	kill -KILL "$put" "$get"
}
