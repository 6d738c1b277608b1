#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Objects changed behind the tools' backs, and other users.
load helpers/common

sleeping_pid() {
	[ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" = S ]
}

waiting() {
	mplock info "$1" --json | grep -q "\"waiters\":$2"
}

@test "truncating a lock under a waiting process makes it exit 65, not die by SIGBUS" {
	for size in 0 4096; do
		mplock rm L 2>/dev/null || true
		[ ! -e "$MP_DIR/lock.L" ]
		start_bg mplock run L sleep 1000
		holder=$BG_PID
		wait_until 20 mplock is-locked L
		start_bg mplock run L true
		waiter=$BG_PID
		wait_until 20 waiting L 1
		truncate -s "$size" "$MP_DIR/lock.L"
		rc=0
		wait "$waiter" || rc=$?
		echo "size $size: waiter exited $rc"
		[ "$rc" = 65 ]
		kill -TERM "$holder" 2>/dev/null || true	# it may have ended by itself
		rc=0
		wait "$holder" || rc=$?
		echo "size $size: holder exited $rc"
		[ "$rc" = 65 ] || [ "$rc" = 143 ]
	done
}

@test "an object unlinked behind a waiter's back (rm -f) wakes it with 66" {
	start_bg mplock run L sleep 1000
	wait_until 20 mplock is-locked L
	start_bg mplock run L true
	waiter=$BG_PID
	wait_until 20 waiting L 1
	rm -f "$MP_DIR/lock.L"
	rc=0
	wait "$waiter" || rc=$?
	[ "$rc" = 66 ]
}

@test "another user cannot read, change, remove or list a user's default store: 69" {
	[ "$(id -u)" = 0 ] || skip "needs root to act as another uid"
	unset MP_DIR
	name=hostile-$$-$RANDOM
	mplock create "$name"
	tools_for_uid 65534
	as_nobody() {
		setpriv --reuid 65534 --regid 65534 --clear-groups env MP_DIR="/dev/shm/mptools-0" "$@"
	}
	# to them it is a store they cannot use: 69 (DESIGN.md §4)
	run -69 as_nobody "$OTHER_BIN/mplock" info "$name"
	run -69 as_nobody "$OTHER_BIN/mplock" rm "$name"
	run -69 as_nobody "$OTHER_BIN/mplock" ls
	run -69 as_nobody "$OTHER_BIN/mplock" -n run "$name" true
	run -0 mplock info "$name"
	mplock rm "$name"
}

@test "rm removes a planted symlink without following it" {
	mkdir -p "$MP_DIR" && chmod 700 "$MP_DIR"
	echo precious >"$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$MP_DIR/lock.trap"
	run -0 --separate-stderr mplock rm trap
	[[ $stderr == *"symbolic link"* ]]
	[ ! -L "$MP_DIR/lock.trap" ]
	[ "$(cat "$BATS_TEST_TMPDIR/target")" = precious ]
}

@test "a store directory that cannot be created, or a file in its place, is unavailable: 69" {
	run -69 --separate-stderr mplock --dir /proc/nope/x create x
	[[ $stderr == *"/proc/nope/x"* ]]
	touch "$BATS_TEST_TMPDIR/file"
	run -69 mplock --dir "$BATS_TEST_TMPDIR/file" create x
}

@test "an object overwritten with garbage while processes wait on it makes them exit 65, not 66" {
	local f size p st
	mplock acquire L --owner none
	mpsem acquire S --owner none
	start_bg mplock run L true
	local w1=$BG_PID
	start_bg mpsem run S true
	local w2=$BG_PID
	start_bg mpqueue get Q
	local w3=$BG_PID
	start_bg mpevent wait E
	local w4=$BG_PID
	start_bg mpvar wait V --set
	local w5=$BG_PID
	wait_until 20 waiting L 1
	wait_until 20 test -e "$MP_DIR/queue.Q"
	wait_until 20 test -e "$MP_DIR/event.E"
	wait_until 20 test -e "$MP_DIR/var.V"
	for p in $w1 $w2 $w3 $w4 $w5; do
		wait_until 20 sleeping_pid "$p"
	done
	for f in lock.L sem.S queue.Q event.E var.V; do
		size=$(stat -c %s "$MP_DIR/$f")
		head -c "$size" /dev/urandom | dd of="$MP_DIR/$f" conv=notrunc status=none
	done
	for p in $w1 $w2 $w3 $w4 $w5; do
		st=0
		wait "$p" || st=$?
		echo "pid $p exited $st"
		[ "$st" = 65 ]
	done
}

getters_are() {
	mpqueue info "$1" --json | grep -q "\"getters\":$2,"
}

var_waiters_are() {
	mpvar info "$1" --json | grep -q "\"waiters\":$2,"
}

@test "waiters SIGKILLed in their sleep are not counted as waiting for good" {
	local p pids=
	mpqueue create Q
	mpvar set V 0
	for p in 1 2 3; do
		start_bg mpqueue get Q
		pids="$pids $BG_PID"
		start_bg mpvar wait V --eq 5
		pids="$pids $BG_PID"
	done
	wait_until 20 getters_are Q 3
	wait_until 20 var_waiters_are V 3
	# shellcheck disable=SC2086
	kill -KILL $pids
	wait_until 20 getters_are Q 0
	wait_until 20 var_waiters_are V 0
	mpqueue close Q
	run -0 mpqueue info Q
	[[ $output == *"waiters:     0 to get or join, 0 to put"* ]]
}

json_has() {
	mplock info "$1" --json | grep -qF -- "$2"
}

@test "info says when a lock's waiting line is full and more may wait outside it" {
	local_store_only
	mplock acquire L --owner none
	start_bg sleep 1000
	local p=$BG_PID
	# every place in the line taken (by one live process, 128 times)
	t-store fill-waiters L "$p"
	run -0 mplock info L
	[[ $output == *"waiters:  128 or more"* ]]
	run -0 mplock info L --json
	[[ $output == *'"waiters":128,"waiters_or_more":true'* ]]
	run -0 mplock ls
	[[ $output == *"128+ waiting"* ]]
	kill -KILL "$p"
	wait_until 20 json_has L '"waiters":0,"waiters_or_more":false'
}
