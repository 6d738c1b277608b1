#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mplock: wrap mode, acquire/release across invocations, owners, exit statuses.
load helpers/common

# holders NAME: number of holders of lock NAME (from info --json)
holders() {
	mplock info "$1" --json | grep -o '"owner_pid"' | wc -l
}
waiters_are() {
	[ "$(mplock info "$1" --json | sed 's/.*"waiters":\([0-9]*\).*/\1/')" = "$2" ]
}
holders_are() {
	[ "$(holders "$1")" = "$2" ]
}
# command_pid NAME: pid of the command wrapped by the holder of NAME
command_pid() {
	mplock info "$1" --json | sed -n 's/.*"command_pid":\([0-9]*\).*/\1/p'
}
has_command_pid() {
	[ -n "$(command_pid "$1")" ]
}

@test "run wraps a command and keeps its flags: -- echo -n hi prints hi without newline" {
	run -0 mplock run L -- echo -n hi
	[ "$output" = hi ]
	run -0 mplock run L echo -n hi
	[ "$output" = hi ]
	# the output has no trailing newline
	[ "$(mplock run L echo -n hi | od -An -c | tr -d ' ')" = hi ]
}

@test "flock style: mplock NAME CMD runs CMD under lock NAME" {
	run -0 mplock db sh -c 'echo "$MP_LOCK_NAME"'
	[ "$output" = db ]
}

@test "-c STRING runs with /bin/sh -c" {
	run -0 mplock run L -c 'echo a; echo b'
	[ "$output" = $'a\nb' ]
}

@test "the command gets MP_LOCK_TOKEN, which grows with every acquisition" {
	a=$(mplock run L sh -c 'echo $MP_LOCK_TOKEN')
	b=$(mplock run L sh -c 'echo $MP_LOCK_TOKEN')
	mplock acquire L --owner none
	mplock release L --owner none
	c=$(mplock run L sh -c 'echo $MP_LOCK_TOKEN')
	[ "$a" -ge 1 ]
	[ "$b" -gt "$a" ]
	[ "$c" -gt $((b + 1)) ]
}

@test "50 concurrent run wrappers around a read-increment-write lose no increment" {
	echo 0 >"$BATS_TEST_TMPDIR/counter"
	pids=()
	for i in $(seq 50); do
		mplock run counter sh -c 'n=$(cat "$1"); echo $((n + 1)) >"$1"' sh "$BATS_TEST_TMPDIR/counter" &
		pids+=($!)
	done
	wait "${pids[@]}"
	[ "$(cat "$BATS_TEST_TMPDIR/counter")" = 50 ]
}

@test "the wrapper exits with the command's status, and 128+N when it died by signal N" {
	run -3 mplock run L sh -c 'exit 3'
	run -0 mplock run L true
	run -1 mplock run L false
	run -137 mplock run L sh -c 'kill -KILL $$'
	run -143 mplock run L sh -c 'kill -TERM $$'
}

@test "a command that cannot be found exits 127, one that cannot run 126, and no lock is held" {
	run -127 --separate-stderr mplock run L no-such-command-xyz
	[[ $stderr == *"command not found"* ]]
	touch "$BATS_TEST_TMPDIR/notexec"
	run -126 mplock run L "$BATS_TEST_TMPDIR/notexec"
	run -126 mplock run L "$BATS_TEST_TMPDIR"
	mplock create L
	run -127 mplock run L no-such-command-xyz
	run -1 mplock is-locked L
}

@test "a script without #! is run by /bin/sh, as execvp does" {
	printf 'echo from-sh\n' >"$BATS_TEST_TMPDIR/script"
	chmod +x "$BATS_TEST_TMPDIR/script"
	run -0 mplock run L "$BATS_TEST_TMPDIR/script"
	[ "$output" = from-sh ]
}

@test "-n exits 75 while another process holds the lock" {
	start_bg mplock run L sleep 1000
	wait_until 20 mplock is-locked L
	run -75 --separate-stderr mplock -v -n run L true
	[[ $stderr == *"busy"* ]]
	run -75 mplock -t 0 run L true
	run -75 -- mplock -q -n run L true
	[ -z "$output" ]
}

@test "-t exits 124 when the wait times out, -w is its alias, -E replaces both" {
	start_bg mplock run L sleep 1000
	wait_until 20 mplock is-locked L
	run -124 mplock -t 0.1 run L true
	run -124 mplock -w 100ms run L true
	run -0 mplock -E 0 -n run L true
	run -42 mplock -E 42 -t 0.05 run L true
	run -64 mplock -E 256 -n run L true
}

@test "usage errors exit 64 with a message" {
	run -64 --separate-stderr mplock run 'bad name' true
	[[ $stderr == *"bad name"* ]]
	run -64 mplock run L
	run -64 mplock
	run -64 mplock -t 5x run L true
	run -64 mplock --no-such-option run L true
	run -64 mplock info
	run -64 mplock info a b
	run -64 mplock run L -c 'true' extra
	run -64 mplock acquire L --ttl 0
	run -64 mplock is-locked L --ttl 1
	run -64 mplock acquire L --owner abc
	run -64 --separate-stderr mplock run .hidden true
	[[ $stderr == *"cannot start with '.'"* ]]
}

@test "verbs that do not create exit 66 for a missing lock" {
	run -66 --separate-stderr mplock info nope
	[[ $stderr == *"no lock named 'nope'"* ]]
	run -66 mplock is-locked nope
	run -66 mplock release nope
	run -66 mplock rm nope
	run -66 mplock acquire L --owner 999999999
}

@test "acquire and release work across invocations; the default owner is the caller's parent" {
	run -0 bash -c 'mplock acquire L && mplock is-locked L && mplock release L && ! mplock is-locked L'
	# the owner (the bash above) is gone: the lock is free again
	run -0 bash -c 'mplock acquire L; true'
	run -0 mplock -t 5 acquire L --owner none
	run -0 mplock release L --owner none
}

@test "acquire then exit: the owner shell is dead, so the lock is free for the next one" {
	# (bash -c 'CMD' alone would exec CMD in place: the '; true' keeps a
	# short-lived shell as the parent)
	bash -c 'mplock acquire L; true'
	run -0 mplock -n acquire L --owner none
}

@test "a second exclusive acquire by the same owner is refused with 75 instead of deadlocking" {
	run -75 --separate-stderr bash -c 'mplock acquire L && mplock acquire L; exit $?'
	[[ $stderr == *"already held by its owner"* ]]
	# bash execs the last command in place: that mplock *is* the owner now
	run -75 --separate-stderr bash -c 'mplock acquire M && mplock acquire M'
	[[ $stderr == *"already held by its owner"* ]]
}

@test "release by a process that is not the owner is refused (1) unless --force" {
	start_bg sleep 1000
	mplock acquire L --owner "$BG_PID"
	run -1 --separate-stderr mplock release L
	[[ $stderr == *"not held by"* ]]
	run -0 mplock is-locked L
	run -0 mplock release L --force
	run -1 mplock is-locked L
	run -1 --separate-stderr mplock release L
	[[ $stderr == *"not locked"* ]]
}

@test "--owner PID: the hold ends when that process ends" {
	start_bg sleep 1000
	owner=$BG_PID
	mplock acquire L --owner "$owner"
	run -75 mplock -n acquire L --owner none
	kill "$owner"
	wait_until 20 dead "$owner"
	run -0 mplock -t 5 acquire L --owner none
}

@test "--owner none lasts until released; --ttl releases by itself" {
	mplock acquire L --owner none
	run -75 mplock -n run L true
	mplock release L --owner none
	mplock acquire T --owner none --ttl 2	# the check below comes first
	run -0 mplock is-locked T
	run -0 mplock -t 5 run T true
	wait_until 20 bash -c '! mplock is-locked T'
}

@test "a holder killed with SIGKILL: a waiter gets the lock within one second" {
	start_bg sleep 1000
	owner=$BG_PID
	mplock acquire L --owner "$owner"
	start_bg mplock -t 20 run L sh -c 'date +%s%N >"$1"' sh "$BATS_TEST_TMPDIR/got"
	wait_until 20 waiters_are L 1
	t0=$(date +%s%N)
	kill -KILL "$owner"
	wait_until 20 test -s "$BATS_TEST_TMPDIR/got"
	t1=$(cat "$BATS_TEST_TMPDIR/got")
	echo "waited $(((t1 - t0) / 1000000)) ms"
	[ $(((t1 - t0) / 1000000)) -lt 1000 ]
}

@test "a wrapper killed with SIGKILL: its command dies and a waiter gets the lock within one second" {
	start_bg mplock run L sleep 1000
	wrapper=$BG_PID
	wait_until 20 has_command_pid L
	cmd=$(command_pid L)
	alive "$cmd"
	start_bg mplock -t 20 run L sh -c 'date +%s%N >"$1"' sh "$BATS_TEST_TMPDIR/got"
	wait_until 20 waiters_are L 1
	t0=$(date +%s%N)
	kill -KILL "$wrapper"
	wait_until 20 dead "$cmd"
	wait_until 20 test -s "$BATS_TEST_TMPDIR/got"
	t1=$(cat "$BATS_TEST_TMPDIR/got")
	[ $(((t1 - t0) / 1000000)) -lt 1000 ]
}

@test "a zombie owner counts as dead" {
	# sleep 1000 is exec'd in place of the shell and never reaps its child
	start_bg bash -c 'sleep 1000 & echo $! >"$1"; exec sleep 1000' sh "$BATS_TEST_TMPDIR/child"
	wait_until 20 test -s "$BATS_TEST_TMPDIR/child"
	owner=$(cat "$BATS_TEST_TMPDIR/child")
	mplock acquire L --owner "$owner"
	run -75 mplock -n acquire L --owner none
	kill -KILL "$owner"
	wait_until 20 grep -q ') Z' "/proc/$owner/stat"
	run -0 mplock -t 5 acquire L --owner none
}

@test "a recycled pid does not count as the owner: its start time differs" {
	local_store_only	# plants a hold in the object's file
	start_bg sleep 1000
	t-store fake-owner L "$BG_PID" 0
	run -75 mplock -n run L true
	mplock release L --force
	t-store fake-owner L "$BG_PID" 7
	run -0 mplock -n run L true
}

@test "shared holders coexist; an exclusive waiter waits for all of them" {
	start_bg mplock run -s L sleep 1000
	r1=$BG_PID
	start_bg mplock run -s L sleep 1000
	r2=$BG_PID
	wait_until 20 holders_are L 2
	run -0 mplock -n run -s L true
	run -75 mplock -n run L true
	start_bg mplock run L touch "$BATS_TEST_TMPDIR/writer"
	wait_until 20 waiters_are L 1
	kill -TERM "$r1"
	wait_until 20 holders_are L 1
	waiters_are L 1
	[ ! -e "$BATS_TEST_TMPDIR/writer" ]
	kill -TERM "$r2"
	wait_until 20 test -e "$BATS_TEST_TMPDIR/writer"
}

@test "a writer is not starved by a stream of readers" {
	for i in 1 2 3; do
		start_bg bash -c 'while :; do mplock run -s L sleep 0.05; done'
	done
	wait_until 20 mplock is-locked L
	run -0 mplock -t 10 run L true
}

@test "waiters are served in arrival order" {
	start_bg mplock run L sleep 1000
	holder=$BG_PID
	wait_until 20 mplock is-locked L
	for i in 1 2 3 4 5; do
		start_bg mplock run L sh -c 'echo "$1" >>"$2"' sh "$i" "$BATS_TEST_TMPDIR/order"
		wait_until 20 waiters_are L "$i"
	done
	kill -TERM "$holder"
	wait_until 30 lines_are "$BATS_TEST_TMPDIR/order" 5
	[ "$(tr -d '\n' <"$BATS_TEST_TMPDIR/order")" = 12345 ]
}

@test "SIGINT or SIGTERM while waiting exits 130/143 and holds nothing afterwards" {
	start_bg mplock run L sleep 1000
	holder=$BG_PID
	wait_until 20 mplock is-locked L
	for sig in INT TERM; do
		start_bg mplock run L touch "$BATS_TEST_TMPDIR/ran"
		waiter=$BG_PID
		wait_until 20 waiters_are L 1
		kill -"$sig" "$waiter"
		rc=0
		wait "$waiter" || rc=$?
		if [ "$sig" = INT ]; then [ "$rc" = 130 ]; else [ "$rc" = 143 ]; fi
		wait_until 20 waiters_are L 0
	done
	kill -TERM "$holder"
	wait_until 20 bash -c '! mplock is-locked L'
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
}

@test "the wrapper forwards SIGTERM to its command and releases when it ends" {
	start_bg mplock run L sh -c 'trap "echo got-term >\"$1\"; exit 7" TERM; while :; do sleep 0.01; done' sh "$BATS_TEST_TMPDIR/t"
	wrapper=$BG_PID
	wait_until 20 has_command_pid L
	kill -TERM "$wrapper"
	rc=0
	wait "$wrapper" || rc=$?
	[ "$rc" = 7 ]
	[ "$(cat "$BATS_TEST_TMPDIR/t")" = got-term ]
	run -1 mplock is-locked L
}

@test "the command inherits the signals its caller ignored (nohup, cmd & in a script)" {
	run -0 bash -c "trap '' HUP INT; mplock run L grep SigIgn /proc/self/status; exit \$?"
	mask=$((16#${output##*[[:space:]]}))
	[ $((mask & 3)) = 3 ]	# SIGHUP is bit 0, SIGINT bit 1
	# (the suite itself may run under nohup: start from default actions)
	run -0 env --default-signal=HUP,INT mplock run L grep SigIgn /proc/self/status
	mask=$((16#${output##*[[:space:]]}))
	[ $((mask & 3)) = 0 ]
}

@test "rm wakes waiters with 66 instead of leaving them hanging" {
	start_bg mplock run L sleep 1000
	wait_until 20 mplock is-locked L
	start_bg mplock run L true
	waiter=$BG_PID
	wait_until 20 waiters_are L 1
	mplock rm L
	rc=0
	wait "$waiter" || rc=$?
	[ "$rc" = 66 ]
	run -66 mplock info L
}

@test "create, info, ls and --json show locks, holders and waiters" {
	mplock create a
	mplock create b
	start_bg mplock run -s b sleep 1000
	wait_until 20 mplock is-locked b
	run -0 mplock ls
	[[ ${lines[0]} == NAME*STATE*WAITERS*AGE*HOLDERS ]]
	[[ ${lines[1]} == a*free* ]]
	[[ ${lines[2]} == b*"locked (shared)"* ]]
	run -0 mplock ls --json
	[[ $output == '[{"name":"a"'*'},{"name":"b"'*'}]' ]]
	run -0 mplock info b
	[[ $output == *"state:    shared (1 holder)"* ]]
	[[ $output == *"command pid"* ]]
	run -0 mplock info b --json
	[[ $output == *'"mode":"shared"'* ]]
	[[ $output == *'"locked":true'* ]]
	run -0 mplock ls --json --dir "$BATS_TEST_TMPDIR/empty"
	[ "$output" = "[]" ]
}

@test "another user's store is unavailable to them: 69" {
	[ "$(id -u)" = 0 ] || skip "needs root to act as another uid"
	mplock create mine
	chmod 755 "$BATS_TEST_TMPDIR"
	tools_for_uid 65534
	run -69 setpriv --reuid 65534 --regid 65534 --clear-groups \
		"$OTHER_BIN/mplock" info mine
}

@test "a failed write to stdout exits 74" {
	mplock create a
	run -74 --separate-stderr bash -c 'mplock info a >/dev/full'
	[[ $stderr == *"write error"* ]]
}

@test "--version and --help print on stdout and exit 0" {
	run -0 mplock --version
	[[ $output == "mplock (mptools) "* ]]
	run -0 mplock --help
	[[ $output == *"acquire NAME"* ]]
	run -0 mplock -h
	[[ $output == *"--conflict-exit-code"* ]]
}

@test "-v says what was acquired, with its token and the wait, and what was released" {
	run -0 --separate-stderr mplock -v acquire v --owner none
	[[ $stderr == "mplock: acquired 'v' (exclusive, token 1) after "*ms ]]
	run -0 --separate-stderr mplock acquire w --owner none
	[ -z "$stderr" ]
	run -0 --separate-stderr mplock -v release v --owner none
	[ "$stderr" = "mplock: released 'v' (token 1)" ]
}

@test "run --ttl ends a command that outlasts it (TERM), exits 124 and frees the lock" {
	run -124 --separate-stderr mplock run --ttl 0.3 ttl -- sleep 100
	[[ $stderr == *"--ttl ran out"* ]]
	run -1 mplock is-locked ttl
	# a command that ends in time keeps its own status
	run -3 mplock run --ttl 10 ttl -- sh -c 'exit 3'
	# one that ignores TERM is killed 5 s later
	run -124 mplock -q run --ttl 0.2 ttl -- sh -c 'trap "" TERM; sleep 100 & wait; sleep 100'
	run -1 mplock is-locked ttl
}

@test "run --ttl records its bound with the hold: it ends even while mplock is stopped" {
	local_store_only
	start_bg mplock run --ttl 0.5 stopped -- sleep 1000
	wait_until 10 mplock is-locked stopped
	kill -STOP "$BG_PID"
	run -0 mplock info stopped --json
	[[ $output == *'"ttl_left_ms":'* ]]
	run -0 mplock -t 20 acquire stopped --owner none
	kill -KILL "$BG_PID"
}
