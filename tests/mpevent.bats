#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mpevent: level-triggered events that wake every waiter (src/mpevent.c,
# src/lib/event.c).
load helpers/common

# waiters NAME: how many processes info says wait on event NAME.
waiters() {
	mpevent info "$1" --json | sed -n 's/.*"waiters":\([0-9]*\).*/\1/p'
}

# has_waiters NAME N: exactly N processes wait on event NAME.
has_waiters() {
	[ "$(waiters "$1")" = "$2" ]
}

# exits_with STATUS PID: waits (10 s at most) for background process PID (a
# child of this shell: never call it in a subshell), which must exit with
# STATUS.
exits_with() {
	local st=0
	wait_until 10 dead "$2" || return 1
	wait "$2" || st=$?
	[ "$st" = "$1" ] || {
		echo "pid $2 exited $st, not $1"
		return 1
	}
}

# now_ms: CLOCK_REALTIME in milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

@test "is-set answers 0 after set and 1 after clear" {
	run -0 mpevent set light
	run -0 mpevent is-set light
	run -0 mpevent clear light
	run -1 mpevent is-set light
	run -0 mpevent set light
	run -0 mpevent set light
	run -0 mpevent is-set light
}

@test "an event is created clear by create, set, clear and wait, and by nothing else" {
	run -66 --separate-stderr mpevent is-set ghost
	[[ $stderr == *"no event named 'ghost'"* ]]
	run -66 mpevent info ghost
	run -66 mpevent rm ghost
	[ ! -e "$MP_DIR/event.ghost" ]
	run -0 mpevent create fresh
	run -1 mpevent is-set fresh
	run -75 mpevent wait -n made-by-wait
	run -1 mpevent is-set made-by-wait
}

@test "wait returns at once when the event is set" {
	mpevent set green
	run -0 mpevent wait green
	run -0 mpevent wait -n green
	run -0 mpevent wait -t 0 green
}

@test "50 waiters blocked on one event all return 0 after a single set; none wakes on clear" {
	local pids=() p
	mpevent create green
	for p in $(seq 50); do
		start_bg mpevent wait green
		pids+=("$BG_PID")
	done
	wait_until 20 has_waiters green 50
	mpevent clear green
	mpevent clear green
	# Give a wrong wake-up on clear the time to show: the waiters woke
	# (clear bumps the word they sleep on) and must have gone back to sleep.
	run -124 mpevent wait -t 0.3 green
	for p in "${pids[@]}"; do
		alive "$p"
	done
	run -0 mpevent set green
	for p in "${pids[@]}"; do
		exits_with 0 "$p"
	done
	wait_until 5 has_waiters green 0
}

@test "a set cleared again at once still releases every process that was waiting" {
	local pids=() p
	mpevent create pulse
	for p in $(seq 10); do
		start_bg mpevent wait pulse
		pids+=("$BG_PID")
	done
	wait_until 10 has_waiters pulse 10
	run -0 t-event pulse pulse
	for p in "${pids[@]}"; do
		exits_with 0 "$p"
	done
	run -1 mpevent is-set pulse
}

@test "wait --cleared returns when the event is clear and a set does not release it" {
	mpevent create door
	run -0 mpevent wait --cleared door
	mpevent set door
	run -75 mpevent wait --cleared -n door
	start_bg mpevent wait --cleared door
	wait_until 5 has_waiters door 1
	mpevent set door
	run -124 mpevent wait --cleared -t 0.2 door
	alive "$BG_PID"
	mpevent clear door
	exits_with 0 "$BG_PID"
}

@test "wait --next ignores a set made before it started and returns on the following one" {
	mpevent set batch
	start_bg mpevent wait --next batch
	wait_until 5 has_waiters batch 1
	# Registered while the event is set, and still waiting.
	run -0 mpevent is-set batch
	alive "$BG_PID"
	run -75 mpevent wait --next -n batch
	mpevent set batch
	exits_with 0 "$BG_PID"
}

@test "wait --next misses no set made after it started, even one cleared at once" {
	local pids=() p i
	mpevent create edge
	for p in $(seq 10); do
		start_bg mpevent wait --next edge
		pids+=("$BG_PID")
	done
	wait_until 10 has_waiters edge 10
	run -0 t-event pulse edge
	for p in "${pids[@]}"; do
		exits_with 0 "$p"
	done
	# One waiter after another, each started before its set: none misses it.
	for i in $(seq 20); do
		start_bg mpevent wait --next edge
		wait_until 5 has_waiters edge 1
		mpevent set edge
		((i % 2)) && mpevent clear edge
		exits_with 0 "$BG_PID"
	done
	run -0 mpevent info edge --json
	[[ $output == *'"sets":21'* ]]
}

@test "wait --next --cleared waits for the next clear" {
	mpevent create c
	start_bg mpevent wait --next --cleared c
	wait_until 5 has_waiters c 1
	mpevent set c
	run -124 mpevent wait --next --cleared -t 0.2 c
	alive "$BG_PID"
	mpevent clear c
	exits_with 0 "$BG_PID"
}

@test "a waiter killed with SIGKILL leaves the event usable for every other waiter and setter" {
	local a b
	mpevent create ev
	start_bg mpevent wait ev
	a=$BG_PID
	start_bg mpevent wait ev
	b=$BG_PID
	wait_until 5 has_waiters ev 2
	kill -KILL "$a"
	wait_until 5 dead "$a"
	# info sees that the killed one is gone.
	wait_until 5 has_waiters ev 1
	run -0 mpevent set ev
	exits_with 0 "$b"
	run -0 mpevent clear ev
	start_bg mpevent wait ev
	wait_until 5 has_waiters ev 1
	run -0 mpevent set ev
	exits_with 0 "$BG_PID"
	run -0 mpevent wait -t 1 ev
	wait_until 5 has_waiters ev 0
}

@test "a process killed holding the event's internal mutex does not wedge it" {
	local_store_only
	mpevent create held
	start_bg mpevent wait held
	wait_until 5 has_waiters held 1
	run -0 t-event die-locked held
	run -0 mpevent -t 5 set held
	exits_with 0 "$BG_PID"
	run -0 mpevent clear held
	run -1 mpevent is-set held
}

@test "a set killed halfway is finished by the next process that uses the event" {
	local_store_only
	mpevent create half
	run -0 t-event die-mid-set half
	run -0 mpevent is-set half
	run -0 mpevent info half --json
	[[ $output == *'"state":"set"'* ]]
	[[ $output == *'"sets":1'* ]]
	run -0 mpevent wait -n half
}

@test "an event from an earlier boot keeps its flag and counts and forgets its waiters" {
	local_store_only
	mpevent set boot
	run -0 t-event reboot boot $$
	run -0 mpevent info boot --json
	[[ $output == *'"set":true'* ]]
	[[ $output == *'"sets":1,'* ]]
	[[ $output == *'"waiters":0,'* ]]
	[[ $output == *'"generation":1'* ]]
	run -0 mpevent -t 5 clear boot
	run -0 mpevent wait --cleared -n boot
}

@test "timeouts are honoured, loosely: -t 0.05 and -t 1 end with 124 and not a second late" {
	local t0 t1
	mpevent create slow
	t0=$(now_ms)
	run -124 --separate-stderr mpevent wait -v -t 0.05 slow
	t1=$(now_ms)
	((t1 - t0 >= 50 && t1 - t0 < 1050))
	[[ $stderr == *"event 'slow': timed out"* ]]
	t0=$(now_ms)
	run -124 mpevent wait -w 1 slow
	t1=$(now_ms)
	((t1 - t0 >= 1000 && t1 - t0 < 2000))
	t0=$(now_ms)
	run -124 mpevent wait -t 100ms slow other --any
	t1=$(now_ms)
	((t1 - t0 >= 100 && t1 - t0 < 1100))
}

@test "-E replaces 75 and 124, and -q silences them" {
	mpevent create e
	run -3 mpevent wait -E 3 -n e
	run -3 mpevent wait -E 3 -t 10ms e
	run -124 --separate-stderr mpevent wait -q -t 10ms e
	[ -z "$stderr" ]
	run -75 --separate-stderr mpevent wait -q -n e
	[ -z "$stderr" ]
}

@test "-n and -t 0 exit 75 on a clear event, and --next with -n always does" {
	mpevent create n
	run -75 --separate-stderr mpevent wait -n n
	[ -z "$stderr" ]	# silent as flock -n
	run -75 --separate-stderr mpevent wait -v -n n
	[[ $stderr == *"not set"* ]]
	run -75 mpevent wait -t 0 n
	mpevent set n
	run -0 mpevent wait -n n
	run -75 mpevent wait --next -n n
}

@test "wait --any prints the name of the event that fired" {
	mpevent create a
	mpevent create b
	start_bg sh -c 'mpevent wait a b c --any >"$1"' sh "$BATS_TEST_TMPDIR/fired"
	wait_until 5 has_waiters c 1
	mpevent set b
	exits_with 0 "$BG_PID"
	[ "$(cat "$BATS_TEST_TMPDIR/fired")" = b ]
	# Already set: at once, the first set one in the order given.
	mpevent set c
	run -0 mpevent wait a c b --any
	[ "$output" = c ]
	run -0 mpevent wait --cleared --any b a
	[ "$output" = a ]
}

@test "wait --all returns once every event was set during the wait" {
	mpevent create x
	mpevent create y
	mpevent create z
	start_bg mpevent wait x y z --all
	wait_until 5 has_waiters z 1
	mpevent set x
	mpevent set z
	run -124 mpevent wait -t 0.2 x y z --all
	alive "$BG_PID"
	mpevent clear x
	mpevent set y
	exits_with 0 "$BG_PID"
	run -124 mpevent wait -t 0.1 x y --all
	mpevent set x
	run -0 --separate-stderr mpevent wait x y z --all
	[ -z "$output" ]
}

@test "wait --next --all returns after a new set of every event" {
	mpevent set p
	mpevent set q
	start_bg mpevent wait --next --all p q
	wait_until 5 has_waiters q 1
	mpevent set p
	run -124 mpevent wait --next -t 0.1 q
	alive "$BG_PID"
	mpevent set q
	exits_with 0 "$BG_PID"
}

@test "waiting on several events works without futex_waitv too" {
	mpevent create s1
	mpevent create s2
	start_bg sh -c 't-event wait-slices any 0 s1 s2 >"$1"' sh "$BATS_TEST_TMPDIR/fired"
	wait_until 5 has_waiters s2 1
	mpevent set s2
	exits_with 0 "$BG_PID"
	[ "$(cat "$BATS_TEST_TMPDIR/fired")" = s2 ]
	mpevent clear s2
	start_bg t-event wait-slices all 0 s1 s2
	wait_until 5 has_waiters s2 1
	mpevent set s1
	mpevent set s2
	exits_with 0 "$BG_PID"
	run -124 t-event wait-slices any 100 s3 s4
}

@test "rm wakes the waiters of an event with 66 instead of leaving them hanging" {
	local a b
	mpevent create doomed
	mpevent create other
	start_bg mpevent wait doomed
	a=$BG_PID
	start_bg mpevent wait other doomed --any
	b=$BG_PID
	wait_until 5 has_waiters doomed 2
	run -0 mpevent rm doomed
	exits_with 66 "$a"
	exits_with 66 "$b"
	[ ! -e "$MP_DIR/event.doomed" ]
	run -66 mpevent rm doomed
}

@test "an event file deleted behind the waiters' backs wakes them with 66" {
	local_store_only
	local a b
	mpevent create gone
	start_bg mpevent wait gone
	a=$BG_PID
	start_bg mpevent wait gone other --all
	b=$BG_PID
	wait_until 5 has_waiters gone 2
	# as rm -f, or systemd-logind's RemoveIPC at logout, would
	rm -f "$MP_DIR/event.gone"
	exits_with 66 "$a"
	exits_with 66 "$b"
}

@test "an event file truncated under a waiter makes it exit 65, not die by SIGBUS" {
	local_store_only
	mpevent create short
	start_bg mpevent wait short
	wait_until 5 has_waiters short 1
	truncate -s 4096 "$MP_DIR/event.short"
	exits_with 65 "$BG_PID"
}

@test "set after rm makes a new event; a removed event's name can be reused" {
	mpevent set old
	mpevent rm old
	run -66 mpevent is-set old
	run -0 mpevent set old
	run -0 mpevent info old --json
	[[ $output == *'"sets":1'* ]]
}

@test "SIGINT and SIGTERM end a wait with 130 and 143 and leave no waiter behind" {
	mpevent create sig
	start_bg mpevent wait sig
	wait_until 5 has_waiters sig 1
	kill -INT "$BG_PID"
	exits_with 130 "$BG_PID"
	start_bg mpevent wait sig other --all
	wait_until 5 has_waiters sig 1
	kill -TERM "$BG_PID"
	exits_with 143 "$BG_PID"
	run -0 mpevent info sig --json
	[[ $output == *'"waiters":0,'* ]]
}

@test "usage errors exit 64" {
	run -64 mpevent
	run -64 mpevent frobnicate x
	run -64 mpevent set
	run -64 --separate-stderr mpevent set 'bad/name'
	[[ $stderr == *"bad name"* ]]
	run -64 mpevent set .hidden
	run -64 mpevent set a b
	run -64 mpevent ls extra
	run -64 --separate-stderr mpevent wait a b
	[[ $stderr == *"--any or --all"* ]]
	run -64 mpevent wait a b --any --all
	run -64 mpevent set a --next
	run -64 mpevent clear a --cleared
	run -64 mpevent info a --any
	run -64 mpevent wait a -t soon
	run -64 mpevent wait a --bogus
	run -64 mpevent wait a -E 256
	run -64 mpevent wait --any $(seq -f 'e%g' 129)
	[ ! -e "$MP_DIR/event.a" ]
}

@test "a corrupt, truncated or wrong-kind event file gives 65" {
	local_store_only
	mpevent create good
	f=$MP_DIR/event.good
	cp "$f" "$MP_DIR/event.trunc" && truncate -s 300 "$MP_DIR/event.trunc"
	run -65 mpevent is-set trunc
	cp "$f" "$MP_DIR/event.flag"
	# the flag (first word of the body) may only be 0 or 1
	printf '\x07' | dd of="$MP_DIR/event.flag" bs=1 seek=256 conv=notrunc status=none
	run -65 --separate-stderr mpevent wait flag
	[[ $stderr == *"corrupt"* ]]
	cp "$f" "$MP_DIR/event.table"
	# the waiter table size (at body offset 52) must fit the file
	printf '\xff\xff\x00\x00' | dd of="$MP_DIR/event.table" bs=1 seek=308 conv=notrunc status=none
	run -65 mpevent set table
	mplock create lk
	cp "$MP_DIR/lock.lk" "$MP_DIR/event.lk"
	run -65 --separate-stderr mpevent set lk
	[[ $stderr == *"not a event"* || $stderr == *"is a lock object"* ]]
	# rm clears a damaged event, saying so
	run -0 --separate-stderr mpevent rm flag
	[[ $stderr == *"removed a damaged object"* ]]
	[ ! -e "$MP_DIR/event.flag" ]
	run -0 mpevent rm lk
	run -0 mplock info lk
}

@test "an event file writable by others, or a symlink, is refused with 77" {
	local_store_only
	mpevent create shared
	chmod 0666 "$MP_DIR/event.shared"
	run -77 --separate-stderr mpevent wait -n shared
	[[ $stderr == *"writable by others"* ]]
	ln -s "$MP_DIR/event.shared" "$MP_DIR/event.link"
	run -77 mpevent set link
}

@test "a system call that fails for want of resources is a system error, 71" {
	local_store_only
	# One file descriptor left: the store opens, the event cannot.
	run -71 --separate-stderr bash -c 'ulimit -n 4; exec mpevent set x' 3>&- 4>&-
	[[ $stderr == *"Too many open files"* ]]
}

@test "a full store fails with 73 and leaves no partial event" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a tiny tmpfs"
	d=$BATS_TEST_TMPDIR/tiny
	mkdir "$d"
	mount -t tmpfs -o size=4k,mode=0700 tmpfs "$d" || skip "cannot mount tmpfs here"
	run -73 --separate-stderr mpevent --dir "$d" set big
	n=$(ls -A "$d" | wc -l)
	umount "$d" 2>/dev/null || true
	[[ $stderr == *"cannot allocate"* ]]
	[ "$n" = 0 ]
}

@test "a failed write to standard output exits 74" {
	[ -w /dev/full ] || skip "no /dev/full"
	mpevent set w
	run -74 sh -c 'mpevent info w --json >/dev/full'
	run -74 sh -c 'mpevent ls >/dev/full'
	run -74 sh -c 'mpevent wait w v --any >/dev/full'
}

@test "an event whose internal mutex is unrecoverable exits 70, not hangs" {
	local_store_only
	mpevent create wedged
	run -0 t-event wedge wedged
	run -70 --separate-stderr mpevent set wedged
	[[ $stderr == *"wedged"* ]]
	run -70 mpevent wait -n wedged
}

@test "info shows state, counts and waiters; ls lists only events" {
	mpevent set shown
	mpevent clear shown
	mpevent set shown
	start_bg mpevent wait --next shown
	wait_until 5 has_waiters shown 1
	run -0 mpevent info shown
	[[ $output == *"state:    set since"* ]]
	[[ $output == *"sets:     2, last "* ]]
	[[ $output == *"clears:   1, last "* ]]
	[[ $output == *"pid $BG_PID, for next set"* ]]
	run -0 mpevent info shown --json
	[[ $output == *'"name":"shown","kind":"event"'* ]]
	[[ $output == *'"set":true'* ]]
	[[ $output == *"\"waiting\":[{\"pid\":$BG_PID,\"for\":\"next set\""* ]]
	mpevent create quiet
	mplock create not-an-event
	run -0 mpevent ls
	[ "${#lines[@]}" = 3 ]
	[[ ${lines[1]} =~ ^quiet\ +clear\ +0\  ]]
	[[ ${lines[2]} =~ ^shown\ +set\ +1\  ]]
	run -0 mpevent ls --json
	[[ $output == '[{"name":"quiet"'*'},{"name":"shown"'*'}]' ]]
}

@test "-v says what happened on stderr, and stdout stays empty" {
	run -0 --separate-stderr mpevent -v set loud
	[[ $stderr == *"set 'loud'"* ]]
	run -0 --separate-stderr mpevent -v wait loud
	[[ $stderr == *"'loud' set after"* ]]
	[ -z "$output" ]
}

@test "every long option of --help is in the man page and the completions" {
	local opt f
	run -0 mpevent --help
	for opt in $(grep -o -- '--[a-z][a-z-]*' <<<"$output" | sort -u); do
		for f in man/mpevent.1 completions/bash/mpevent completions/zsh/_mpevent \
			completions/fish/mpevent.fish; do
			case $f in
			man/*) grep -q -- "Fl -${opt#--}" "$MP_TOP_SRCDIR/$f" ;;
			*fish) grep -q -- "-l ${opt#--}" "$MP_TOP_SRCDIR/$f" ;;
			*) grep -q -- "$opt" "$MP_TOP_SRCDIR/$f" ;;
			esac || {
				echo "$opt is missing from $f"
				return 1
			}
		done
	done
}

@test "the traffic-light example runs: cars go on green, the police car goes anyway" {
	run -0 "$MP_TOP_SRCDIR/examples/traffic-light.sh"
	[[ $output == *"police car"*"goes"* ]]
	[[ $output == *"car 1"*"green"* ]]
}
