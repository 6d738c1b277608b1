#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mpspawn's group records under attack (issue 22): failed messages and
# restarts, fronts killed, records from other pid namespaces, damaged ones.
load helpers/common

# gfield NAME FIELD: a field of the group from status --json.
gfield() {
	mpspawn status "$1" --json | sed 's/,"workers":\[.*//' |
		sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" | tr -d '"'
}

gstate_is() {
	[ "$(gfield "$1" state)" = "$2" ]
}

# records: how many group records the store holds.
records() {
	local n
	n=$(find "$MP_DIR" -name 'spawn.*' | wc -l)
	[ "$n" = "$1" ]
}

@test "a pool's status is that of its first failed message, with or without --restart" {
	local_store_only
	local r
	for r in "" "--restart on-failure"; do
		mpqueue rm Q 2>/dev/null || true
		mpqueue put Q 1 2 3 4
		mpqueue close Q
		# shellcheck disable=SC2086
		run -5 --separate-stderr mpspawn --name G -j 1 --queue Q $r -- \
			sh -c 'case $1 in 2) exit 5;; 4) exit 6;; esac' sh
		[[ $stderr == *"2 of 4 messages failed (the first with status 5)"* ]]
		run -0 mpspawn status G
		[[ $output == *"exit status 5"* ]]
		run -5 mpspawn wait G
	done
}

@test "mpspawn SIGKILLed: the reason says mpspawn was killed, not its supervisor" {
	local_store_only
	start_bg mpspawn --name G -c 'echo $$ >"$BATS_TEST_TMPDIR/w"; exec sleep 300'
	wait_until 20 test -s "$BATS_TEST_TMPDIR/w"
	kill -KILL "$BG_PID"
	wait_until 20 gstate_is G done
	[ "$(gfield G reason)" = "mpspawn killed" ]
	run -137 mpspawn wait G
	run -0 mpspawn status G
	[[ $output == *"mpspawn killed"* ]]
}

@test "the record of an unnamed group goes when its mpspawn is SIGKILLed" {
	local_store_only
	local i
	for i in 1 2 3; do
		rm -f "$BATS_TEST_TMPDIR/w"
		start_bg mpspawn -c 'echo $$ >"$BATS_TEST_TMPDIR/w"; exec sleep 300'
		wait_until 20 test -s "$BATS_TEST_TMPDIR/w"
		records 1
		kill -KILL "$BG_PID"
		wait_until 20 records 0
		wait_until 20 dead "$(cat "$BATS_TEST_TMPDIR/w")"
	done
}

@test "records of unnamed groups whose mpspawn and supervisor were both SIGKILLed are swept by the next unnamed group" {
	local_store_only
	start_bg mpspawn -c 'echo $$ >"$BATS_TEST_TMPDIR/w"; exec sleep 300'
	local m=$BG_PID name sup
	wait_until 20 test -s "$BATS_TEST_TMPDIR/w"
	name=spawn-$m
	sup=$(gfield "$name" supervisor)
	# stopped first: neither may see the other die (the supervisor removes
	# the record of an unnamed group whose mpspawn it sees killed)
	kill -STOP "$m" "$sup"
	kill -KILL "$m" "$sup"
	wait_until 20 dead "$(cat "$BATS_TEST_TMPDIR/w")"
	records 1
	# a named group's record stays: it is the user's
	mpspawn --name kept true
	records 2
	run -0 mpspawn true
	records 1
	[ -e "$MP_DIR/spawn.kept" ]
}

# in_pidns CMD...: runs CMD in a new pid namespace (root only).
in_pidns() {
	unshare -pf --mount-proc "$@"
}

@test "kill, is-alive and wait from another pid namespace signal nothing and exit 77, saying why" {
	local_store_only
	[ "$(id -u)" = 0 ] || skip "needs root (unshare -p)"
	in_pidns true || skip "cannot make a pid namespace here"
	start_bg mpspawn --name G -c 'echo $$ >"$BATS_TEST_TMPDIR/w"; exec sleep 300'
	wait_until 20 test -s "$BATS_TEST_TMPDIR/w"
	# a decoy for every low pid of the new namespace: kill must hit none
	run -77 --separate-stderr in_pidns sh -c '
		pids=
		for i in 1 2 3 4 5 6 7 8; do sleep 300 & pids="$pids $!"; done
		mpspawn kill G; st=$?
		for p in $pids; do
			grep -q "^State:.*[SR]" "/proc/$p/status" || { echo "decoy $p was killed" >&2; exit 99; }
		done
		exit "$st"'
	[[ $stderr == *"another pid namespace"* ]]
	run -77 --separate-stderr in_pidns mpspawn is-alive G
	[[ $stderr == *"another pid namespace"* ]]
	run -77 --separate-stderr in_pidns mpspawn wait G
	[[ $stderr == *"another pid namespace"* ]]
	run -0 in_pidns mpspawn status G
	[[ $output == *"another pid namespace"* ]]
	# the group was not touched, and here it is judged as before
	run -0 mpspawn is-alive G
	mpspawn kill G
	run -143 mpspawn wait G
	# an ended group is no namespace's business any more
	run -143 in_pidns mpspawn wait G
	run -1 in_pidns mpspawn is-alive G
}

@test "wait (with or without -n), is-alive and kill of a record with an impossible state exit 65, saying so" {
	local_store_only
	mpspawn --name C true
	# the group's state word (after the worker count at the body's start)
	printf '\011' | dd of="$MP_DIR/spawn.C" bs=1 seek=260 conv=notrunc status=none
	run -65 --separate-stderr mpspawn status C
	[[ $stderr == *corrupt* ]]
	run -65 --separate-stderr mpspawn wait --nonblock C
	[[ $stderr == *corrupt* ]]
	run -65 --separate-stderr mpspawn wait C
	[[ $stderr == *corrupt* ]]
	run -65 mpspawn is-alive C
	run -65 --separate-stderr mpspawn kill C
	[[ $stderr == *corrupt* ]]
	run -0 mpspawn rm C
}

@test "--tag output cut short by its reader exits 74, as the table says, not 141" {
	run -74 --separate-stderr bash -c 'set -o pipefail
		mpspawn --tag -j 2 -- sh -c "i=0; while [ \$i -lt 100000 ]; do echo line \$i; i=\$((i+1)); done" | head -n 1 >/dev/null'
	[[ $stderr == *"cannot write the workers' output to standard output"* ]]
}
