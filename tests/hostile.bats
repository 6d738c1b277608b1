#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Objects changed behind the tools' backs, and other users.
load helpers/common

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
