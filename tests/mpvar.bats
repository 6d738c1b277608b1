#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mpvar: shared values and counters (src/mpvar.c, src/lib/var.c).
# The 4 x 10,000 incr test makes 40,000 calls: minutes on a loaded 2-core
# machine, so this suite's tests may run longer than the others'.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-400}
load helpers/common

# waiters NAME: the processes info says wait on variable NAME.
waiters() {
	mpvar info "$1" --json | sed -n 's/.*"waiters":\([0-9]*\).*/\1/p'
}

has_waiters() {
	[ "$(waiters "$1")" = "$2" ]
}

# value_is NAME V: get prints V.
value_is() {
	[ "$(mpvar get "$1")" = "$2" ]
}

# exits_with STATUS PID: background process PID (a child of this shell)
# exits with STATUS within 10 s.
exits_with() {
	local st=0
	wait_until 10 dead "$2" || return 1
	wait "$2" || st=$?
	[ "$st" = "$1" ] || {
		echo "pid $2 exited $st, not $1"
		return 1
	}
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# ---- set, get, setnx ----

@test "set then get prints the value and a newline; --raw prints it without" {
	run -0 mpvar set greeting 'hello world'
	[ -z "$output" ]
	run -0 mpvar get greeting
	[ "$output" = 'hello world' ]
	[ "$(mpvar get greeting | od -An -c | tr -d ' \n')" = 'helloworld\n' ]
	[ "$(mpvar get greeting --raw | od -An -c | tr -d ' \n')" = 'helloworld' ]
	mpvar set greeting again
	run -0 mpvar get greeting
	[ "$output" = again ]
}

@test "set - reads the value from stdin: one final newline dropped, or every byte with --raw" {
	echo 'from stdin' | mpvar set v -
	run -0 mpvar get v
	[ "$output" = 'from stdin' ]
	printf 'a\0b\n\n' | mpvar set bin - --raw
	mpvar get bin --raw >"$BATS_TEST_TMPDIR/out"
	cmp "$BATS_TEST_TMPDIR/out" <(printf 'a\0b\n\n')
	: | mpvar set empty -
	run -0 mpvar get empty
	[ "$output" = "" ]
	run -0 mpvar info empty --json
	[[ $output == *'"set":true,"value":"","length":0,'* ]]
}

@test "get of a missing or unset variable exits 66, or prints --default and exits 0" {
	run -66 --separate-stderr mpvar get nope
	[[ $stderr == *"no variable named 'nope'"* ]]
	[ -z "$output" ]
	[ ! -e "$MP_DIR/var.nope" ]
	run -0 mpvar get nope --default 42
	[ "$output" = 42 ]
	mpvar create unset
	run -66 --separate-stderr mpvar get unset
	[[ $stderr == *"'unset' is unset"* ]]
	run -0 mpvar get unset --default ''
	[ "$output" = "" ]
	mpvar set unset x
	run -0 mpvar get unset --default 42
	[ "$output" = x ]
}

@test "setnx sets only an unset variable: 0 it set it, 1 it was set already" {
	run -0 mpvar setnx leader alice
	run -1 mpvar setnx leader bob
	run -0 mpvar get leader
	[ "$output" = alice ]
	mpvar unset leader
	run -66 mpvar get leader
	run -0 mpvar setnx leader bob
	run -0 mpvar get leader
	[ "$output" = bob ]
}

@test "of 20 processes racing setnx on one name exactly one wins" {
	local i pids=() wins=0 st
	for i in $(seq 20); do
		mpvar setnx race "p$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		st=0
		wait "$p" || st=$?
		[ "$st" = 0 ] && wins=$((wins + 1))
		[ "$st" = 0 ] || [ "$st" = 1 ]
	done
	[ "$wins" = 1 ]
	[[ $(mpvar get race) == p* ]]
}

# ---- incr, decr ----

@test "incr and decr add atomically and print the new value; N may be negative" {
	run -0 mpvar incr c
	[ "$output" = 1 ]
	run -0 mpvar incr c 10
	[ "$output" = 11 ]
	run -0 mpvar decr c
	[ "$output" = 10 ]
	run -0 mpvar decr c 4
	[ "$output" = 6 ]
	run -0 mpvar incr c -10
	[ "$output" = -4 ]
	run -0 mpvar decr c -- -6
	[ "$output" = 2 ]
	run -0 mpvar incr c +3
	[ "$output" = 5 ]
	run -0 mpvar get c
	[ "$output" = 5 ]
}

@test "an unset variable counts from 0, or from --init V" {
	run -0 mpvar incr a
	[ "$output" = 1 ]
	run -0 mpvar decr b --init 100
	[ "$output" = 99 ]
	# --init is for an unset variable only
	run -0 mpvar decr b --init 100
	[ "$output" = 98 ]
	mpvar create z
	run -0 mpvar incr z 5 --init=-7
	[ "$output" = -2 ]
}

@test "incr of a value that is not an integer exits 65 and changes nothing" {
	local v
	for v in abc '' ' 1' '1 ' 1.5 0x10 12a 99999999999999999999; do
		mpvar set n "$v"
		run -65 --separate-stderr mpvar incr n
		[[ $stderr == *"does not hold an integer"* ]]
		[ -z "$output" ]
		[ "$(mpvar get n)" = "$v" ]
	done
}

@test "an overflow exits 65 and changes nothing, both ways" {
	mpvar set big 9223372036854775807
	run -65 --separate-stderr mpvar incr big
	[[ $stderr == *"does not fit in 64 bits"* ]]
	value_is big 9223372036854775807
	mpvar set small -9223372036854775808
	run -65 mpvar decr small
	value_is small -9223372036854775808
	run -0 mpvar incr small -- 9223372036854775807
	[ "$output" = -1 ]
	run -65 mpvar decr zero -- -9223372036854775808
	run -64 mpvar incr zero 9223372036854775808
	run -64 mpvar incr zero x
}

@test "the tutorial's counter: 100 processes each decr from 100 end at exactly 0" {
	local i pids=()
	mpvar set count 100
	for i in $(seq 100); do
		mpvar decr count >/dev/null &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	run -0 mpvar get count
	[ "$output" = 0 ]
}

@test "4 processes x 10,000 concurrent incr end at exactly 40,000" {
	local pids=() i n=10000
	# a sanitized call costs ten times a plain one: the same race, smaller
	if grep -q '^CFLAGS = .*-fsanitize' "$MP_TOP_BUILDDIR/Makefile" 2>/dev/null; then
		n=1000
		echo "# sanitized build: 4 x $n" >&3
	fi
	mpvar create hits
	for i in 1 2 3 4; do
		bash -c 'for ((k = 0; k < $1; k++)); do mpvar incr hits >/dev/null || exit 1; done' \
			sh "$n" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	run -0 mpvar get hits
	[ "$output" = $((4 * n)) ]
	run -0 mpvar info hits --json
	[[ $output == *"\"version\":$((4 * n)),"* ]]
}

# ---- cas ----

@test "cas swaps only from the expected value: 0 swapped, 1 not, -p prints the current value" {
	mpvar set state idle
	run -0 mpvar cas state idle busy
	[ -z "$output" ]
	value_is state busy
	run -1 mpvar cas state idle busy
	[ -z "$output" ]
	run -1 mpvar cas state idle other -p
	[ "$output" = busy ]
	value_is state busy
	# an unset variable equals nothing, not even ''
	mpvar create fresh
	run -1 mpvar cas fresh '' x -p
	[ -z "$output" ]
	run -66 mpvar get fresh
}

@test "cas as a lock-free update: 10 processes each add 1 with a cas loop, none is lost" {
	local pids=() i
	mpvar set total 0
	for i in $(seq 10); do
		bash -c 'for k in 1 2 3 4 5; do
			for ((try = 0; ; try++)); do
				((try < 1000)) || exit 1
				v=$(mpvar get total) || exit 1
				mpvar cas total "$v" $((v + 1)) && break
			done
		done' &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	value_is total 50
}

# ---- size limits ----

@test "a value over the size limit exits 65 with both sizes and changes nothing" {
	mpvar create small --max-size 8
	mpvar set small 12345678
	run -65 --separate-stderr mpvar set small 123456789
	[[ $stderr == *"9 bytes"*"8 bytes"* ]]
	value_is small 12345678
	head -c 5000 /dev/zero | tr '\0' x >"$BATS_TEST_TMPDIR/big"
	run -65 --separate-stderr mpvar set dflt - <"$BATS_TEST_TMPDIR/big"
	[[ $stderr == *"5000 bytes"*"4096 bytes"* ]]
	head -c 4096 "$BATS_TEST_TMPDIR/big" | mpvar set dflt - --raw
	[ "$(mpvar get dflt --raw | wc -c)" = 4096 ]
	run -65 mpvar cas dflt x "$(cat "$BATS_TEST_TMPDIR/big")"
	mpvar set tiny9 1 --max-size 2
	mpvar incr tiny9 98
	run -65 mpvar incr tiny9
	value_is tiny9 99
}

@test "create --max-size: at most 1M, fixed at creation; another size for an existing one exits 73" {
	run -0 mpvar create m --max-size 1M
	head -c $((1 << 20)) /dev/zero | mpvar set m - --raw
	[ "$(mpvar get m --raw | wc -c)" = $((1 << 20)) ]
	run -64 mpvar create m2 --max-size 2M
	run -64 mpvar create m2 --max-size 0
	run -0 mpvar create m --max-size 1M
	run -73 --separate-stderr mpvar create m --max-size 10
	[[ $stderr == *"exists already"* ]]
	run -0 mpvar create m
	run -64 mpvar get m --max-size 10
}

# ---- wait ----

@test "wait returns at once when its condition holds" {
	mpvar set n 5
	run -0 mpvar wait n --eq 5
	run -0 mpvar wait n --ne 4
	run -0 mpvar wait n --ge 5
	run -0 mpvar wait n --gt 4
	run -0 mpvar wait n --le 5
	run -0 mpvar wait n --lt 6
	run -0 mpvar wait n --set
	run -0 mpvar wait n --ge -3
	run -0 mpvar wait n --gt=-3
	run -75 mpvar wait n --unset -n
	run -75 mpvar wait n --gt 5 -n
	run -75 mpvar wait n --eq 6 -t 0
	mpvar create u
	run -0 mpvar wait u --unset
	run -0 mpvar wait u --ne x
	# a value that is not an integer never holds a comparison
	mpvar set s abc
	run -75 mpvar wait s --ge -9223372036854775808 -n
}

@test "wait sleeps until a change makes its condition hold, and not before" {
	mpvar set level 1
	start_bg mpvar wait level --ge 3
	local w=$BG_PID
	wait_until 5 has_waiters level 1
	mpvar incr level >/dev/null
	# woken by the change, looked, and went back to sleep
	wait_until 5 has_waiters level 1
	alive "$w"
	mpvar set level 3
	exits_with 0 "$w"
	start_bg mpvar wait level --eq done
	w=$BG_PID
	wait_until 5 has_waiters level 1
	mpvar set level don
	mpvar set level 'done '
	wait_until 5 has_waiters level 1
	alive "$w"
	mpvar set level done
	exits_with 0 "$w"
}

@test "wait --set and --unset follow set and unset" {
	mpvar create flag
	start_bg mpvar wait flag --set
	local w=$BG_PID
	wait_until 5 has_waiters flag 1
	mpvar set flag ''
	exits_with 0 "$w"
	start_bg mpvar wait flag --unset
	w=$BG_PID
	wait_until 5 has_waiters flag 1
	mpvar unset flag
	exits_with 0 "$w"
}

@test "a barrier: 5 processes each incr then wait --ge 5; all return, none before the fifth incr" {
	local i pids=()
	mpvar create arrived
	for i in 1 2 3 4; do
		start_bg bash -c 'mpvar incr arrived >/dev/null && mpvar wait arrived --ge 5 -t 60 &&
			echo "$1" >>"$2"' sh "$i" "$BATS_TEST_TMPDIR/through"
		pids+=("$BG_PID")
	done
	wait_until 10 value_is arrived 4
	wait_until 10 has_waiters arrived 4
	[ ! -e "$BATS_TEST_TMPDIR/through" ]
	for p in "${pids[@]}"; do alive "$p"; done
	mpvar incr arrived
	run -0 mpvar wait arrived --ge 5
	for p in "${pids[@]}"; do exits_with 0 "$p"; done
	[ "$(sort "$BATS_TEST_TMPDIR/through" | tr '\n' ' ')" = "1 2 3 4 " ]
}

@test "a countdown latch: wait --le 0 returns when the last of 10 workers decrs" {
	local i
	mpvar set pending 10
	start_bg mpvar wait pending --le 0 -t 60
	local w=$BG_PID
	wait_until 5 has_waiters pending 1
	for i in $(seq 9); do mpvar decr pending >/dev/null; done
	wait_until 5 has_waiters pending 1
	alive "$w"
	mpvar decr pending
	exits_with 0 "$w"
}

@test "1,000 waiters all wake on one change" {
	mpvar create go
	# one shell starts them and counts how they ended; the deadlines are
	# ceilings for a slow, sanitized build (on Redis its server may not
	# answer for seconds while a thousand processes start), not timings
	start_bg bash -c 'pids=()
		for i in $(seq 1000); do mpvar wait go --eq now -t 300 & pids+=($!); done
		ok=0; for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
		echo "$ok" >"$1"' sh "$BATS_TEST_TMPDIR/ok"
	wait_until 200 has_waiters go 1000
	[ ! -e "$BATS_TEST_TMPDIR/ok" ]
	mpvar set go now
	wait_until 200 test -s "$BATS_TEST_TMPDIR/ok"
	[ "$(cat "$BATS_TEST_TMPDIR/ok")" = 1000 ]
	run -0 waiters go
	[ "$output" = 0 ]
}

@test "wait with a timeout exits 124 on time, and -E and -q apply" {
	local t0 t1
	mpvar set n 0
	t0=$(now_ms)
	# not before -t; the upper bounds only catch a -t that is ignored
	run -124 --separate-stderr mpvar wait -v n --gt 0 -t 0.2
	t1=$(now_ms)
	((t1 - t0 >= 200 && t1 - t0 < 5200))
	[[ $stderr == *"variable 'n': timed out"* ]]
	t0=$(now_ms)
	run -124 mpvar wait n --eq 1 -w 1
	t1=$(now_ms)
	((t1 - t0 >= 1000 && t1 - t0 < 6000))
	run -3 mpvar wait n --eq 1 -t 10ms -E 3
	run -3 mpvar wait n --eq 1 -n -E 3
	run -124 --separate-stderr mpvar wait n --eq 1 -t 10ms -q
	[ -z "$stderr" ]
	run -0 waiters n
	[ "$output" = 0 ]
}

@test "SIGINT and SIGTERM end a wait with 130 and 143 and leave no waiter behind" {
	mpvar create sig
	start_bg mpvar wait sig --set
	wait_until 5 has_waiters sig 1
	kill -INT "$BG_PID"
	exits_with 130 "$BG_PID"
	start_bg mpvar wait sig --eq x
	wait_until 5 has_waiters sig 1
	kill -TERM "$BG_PID"
	exits_with 143 "$BG_PID"
	run -0 waiters sig
	[ "$output" = 0 ]
}

@test "rm wakes the waiters of a variable with 66" {
	local a b
	mpvar create doomed
	start_bg mpvar wait doomed --set
	a=$BG_PID
	start_bg mpvar wait doomed --ge 3
	b=$BG_PID
	wait_until 5 has_waiters doomed 2
	run -0 mpvar rm doomed
	exits_with 66 "$a"
	exits_with 66 "$b"
	[ ! -e "$MP_DIR/var.doomed" ]
	run -66 mpvar rm doomed
	run -66 mpvar get doomed
}

@test "a variable file deleted or truncated behind a waiter wakes it with 66 or 65" {
	local_store_only
	mpvar create gone
	start_bg mpvar wait gone --set
	wait_until 5 has_waiters gone 1
	rm -f "$MP_DIR/var.gone"
	exits_with 66 "$BG_PID"
	mpvar create short
	start_bg mpvar wait short --set
	wait_until 5 has_waiters short 1
	truncate -s 300 "$MP_DIR/var.short"
	exits_with 65 "$BG_PID"
}

# ---- ls, dump, info ----

@test "ls and dump list the variables, all or by PREFIX; dump --json is one JSON object" {
	mpvar set job.a 1
	mpvar set job.b 'two words'
	mpvar create job.c
	mpvar set other 007
	mpvar set bin "$(printf 'q"\\\t\001\377')"
	mpevent create job.event
	run -0 mpvar ls
	[ "${#lines[@]}" = 6 ]	# and the header
	run -0 mpvar ls job.
	[ "${#lines[@]}" = 4 ]
	[[ ${lines[1]} =~ ^job\.a\ +=\ 1\  ]]
	[[ ${lines[3]} =~ ^job\.c\ +unset\  ]]
	run -0 mpvar dump job.
	[ "$output" = $'job.a=1\njob.b=two words' ]
	run -0 mpvar dump job. --json
	[ "$output" = '{"job.a":1,"job.b":"two words","job.c":null}' ]
	run -0 mpvar dump --json
	[[ $output == *'"bin":"q\"\\\t\u0001\u00ff"'* ]]
	[[ $output == *'"other":"007"'* ]]
	if command -v python3 >/dev/null; then
		python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["job.a"] == 1 and d["job.c"] is None' "$output"
	fi
	run -0 mpvar ls --json
	[[ $output == '[{"name":"bin",'* ]]
	run -0 mpvar dump nothing --json
	[ "$output" = '{}' ]
	run -64 mpvar ls 'a/b'
	run -64 mpvar ls a b
}

@test "info shows the value, its size limit, version and waiters" {
	mpvar set i hello
	mpvar set i world
	run -0 mpvar info i
	[[ $output == *"name:     i"* ]]
	[[ $output == *"value:    world"* ]]
	[[ $output == *"length:   5 bytes (at most 4096)"* ]]
	[[ $output == *"version:  2"* ]]
	run -0 mpvar info i --json
	[[ $output == '{"name":"i","kind":"var",'*'"set":true,"value":"world","length":5,"max_size":4096,"version":2,'* ]]
	mpvar create e
	run -0 mpvar info e
	[[ $output == *"value:    (unset)"* ]]
}

# ---- bad input ----

@test "usage errors exit 64" {
	run -64 mpvar
	run -64 mpvar frobnicate x
	run -64 mpvar get
	run -64 --separate-stderr mpvar set 'bad/name' 1
	[[ $stderr == *"bad name"* ]]
	run -64 mpvar get .hidden
	run -64 mpvar set a
	run -64 mpvar set a 1 2
	run -64 mpvar incr a 1 2
	run -64 mpvar incr a 1.5
	run -64 mpvar cas a 1
	run -64 mpvar get a b
	run -64 --separate-stderr mpvar wait a
	[[ $stderr == *"one condition"* ]]
	run -64 mpvar wait a --ge 1 --le 2
	run -64 mpvar wait a --ge x
	run -64 mpvar get a --eq 1
	run -64 mpvar set a 1 --default 2
	run -64 mpvar get a --init 2
	run -64 mpvar set a 1 -p
	run -64 mpvar incr a --raw
	run -64 mpvar set a -x
	[ ! -e "$MP_DIR/var.a" ]
	# a value that starts with '-' goes after --
	run -0 mpvar set a -- -x
	value_is a -x
}

@test "a wrong-kind, corrupt or truncated variable file exits 65; rm clears it" {
	local_store_only
	mpvar set good 1
	local f=$MP_DIR/var.good
	mplock create lk
	cp "$MP_DIR/lock.lk" "$MP_DIR/var.lk"
	run -65 --separate-stderr mpvar get lk
	[[ $stderr == *"is a lock object, not a var"* ]]
	run -65 mpvar incr lk
	cp "$f" "$MP_DIR/var.trunc" && truncate -s 300 "$MP_DIR/var.trunc"
	run -65 mpvar get trunc
	# the length (body offset 24) may not pass the size limit
	cp "$f" "$MP_DIR/var.len"
	printf '\xff\xff\x00\x00' | dd of="$MP_DIR/var.len" bs=1 seek=280 conv=notrunc status=none
	run -65 --separate-stderr mpvar get len
	[[ $stderr == *"corrupt"* ]]
	# the size limit (body offset 0) must fit the file
	cp "$f" "$MP_DIR/var.max"
	printf '\x00\x00\x10\x00' | dd of="$MP_DIR/var.max" bs=1 seek=256 conv=notrunc status=none
	run -65 mpvar set max 2
	run -65 mpvar wait max --set
	head -c 4000 /dev/urandom >"$MP_DIR/var.junk"
	chmod 600 "$MP_DIR/var.junk"
	run -65 mpvar info junk
	run -0 --separate-stderr mpvar rm len
	[[ $stderr == *"removed a damaged object"* ]]
	run -0 mpvar rm lk
	run -0 mplock info lk
	value_is good 1
}

@test "a corrupt length written while a waiter sleeps makes it exit 65, not read out of bounds" {
	local_store_only
	mpvar create c
	start_bg mpvar wait c --eq x
	wait_until 5 has_waiters c 1
	printf '\x01' | dd of="$MP_DIR/var.c" bs=1 seek=276 conv=notrunc status=none
	printf '\xff\xff\xff\x00' | dd of="$MP_DIR/var.c" bs=1 seek=280 conv=notrunc status=none
	# the waiter looks again within a second (MP_VAR_CHECK_NS)
	exits_with 65 "$BG_PID"
	run -65 mpvar set c x
	run -65 mpvar get c
}

@test "a failed write to standard output exits 74" {
	[ -w /dev/full ] || skip "no /dev/full"
	mpvar set v x
	run -74 sh -c 'mpvar get v >/dev/full'
	run -74 sh -c 'mpvar incr n >/dev/full'
	run -74 sh -c 'mpvar dump --json >/dev/full'
	# the incr was made: only its report was lost
	value_is n 1
}
