#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mpqueue: a bounded, binary-safe, crash-safe message queue.
load helpers/common

# qfield NAME FIELD: a top-level number or boolean of `info --json`.
qfield() {
	mpqueue info "$1" --json | grep -o "\"$2\":[^,}]*" | head -n 1 | cut -d: -f2
}

# field_is NAME FIELD VALUE: for wait_until.
field_is() {
	[ "$(qfield "$1" "$2")" = "$3" ]
}

# kill9 PID: SIGKILLs background process PID and reaps it quietly (bash
# would report "Killed" on stderr).
kill9() {
	kill -KILL "$1"
	wait "$1" 2>/dev/null || true
}

# exits_with PID STATUS: waits for background process PID (`run` cannot:
# it runs in a subshell) and checks its exit status.
exits_with() {
	local rc=0
	wait "$1" || rc=$?
	[ "$rc" = "$2" ] || {
		echo "pid $1 exited $rc, expected $2" >&2
		return 1
	}
}

# ---- create, limits, info ----

@test "create fixes the limits and info shows them" {
	run -0 mpqueue create q --max-items 5 --max-bytes 2K --max-msg 100
	run -0 qfield q max_items
	[ "$output" = 5 ]
	run -0 qfield q max_bytes
	[ "$output" = 2048 ]
	run -0 qfield q max_msg
	[ "$output" = 100 ]
	run -0 mpqueue info q
	[[ $output == *"0 of 5 waiting (0 of 2048 bytes)"* ]]
	[[ $output == *"max-msg:     100 bytes"* ]]
}

@test "a queue created on first use has the documented defaults" {
	run -0 mpqueue put q hello
	run -0 qfield q max_items
	[ "$output" = 16384 ]
	run -0 qfield q max_bytes
	[ "$output" = 1048576 ]
	run -0 qfield q max_msg
	[ "$output" = 65536 ]
}

@test "create of an existing queue succeeds with the same limits and exits 73 with others" {
	mpqueue create q --max-items 5
	run -0 mpqueue create q
	run -0 mpqueue create q --max-items 5
	run --separate-stderr -73 mpqueue create q --max-items 6
	[[ $stderr == *"exists already with --max-items 5"* ]]
}

@test "--max-msg larger than --max-bytes is a usage error" {
	run --separate-stderr -64 mpqueue create q --max-bytes 1K --max-msg 2K
	[[ $stderr == *"--max-msg 2048 is more than --max-bytes 1024"* ]]
	run -64 mpqueue create q --max-items 0
	run -64 mpqueue create q --max-msg 1X
}

@test "--max-items 3 then four put -n exits 0, 0, 0, 75" {
	mpqueue create q --max-items 3
	run -0 mpqueue put q -n a
	run -0 mpqueue put q -n b
	run -0 mpqueue put q -n c
	run --separate-stderr -75 mpqueue put q -n d
	[ -z "$stderr" ]	# silent as flock -n
	run --separate-stderr -75 mpqueue put q -v -n d
	[[ $stderr == *"busy"* ]]
	run -0 mpqueue size q
	[ "$output" = 3 ]
}

@test "--max-bytes bounds the payload bytes held: 0, 0, 0, 75" {
	mpqueue create q --max-bytes 12
	run -0 mpqueue put q -n abcd
	run -0 mpqueue put q -n efgh
	run -0 mpqueue put q -n ijkl
	run -75 mpqueue put q -n m
	run -0 mpqueue get q
	run -0 mpqueue put q -n mnop
}

@test "a message larger than --max-msg exits 65 and nothing of it is enqueued" {
	mpqueue create q --max-msg 4
	run --separate-stderr -65 mpqueue put q abc toolong
	[[ $stderr == *"7 bytes is over --max-msg 4"* ]]
	run -0 mpqueue size q
	[ "$output" = 0 ]
	run -65 bash -c 'printf "ok\ntoolong\nnext\n" | mpqueue put q'
	run -0 mpqueue get q --all
	[ "$output" = ok ]
	run -65 bash -c 'printf "12345" | mpqueue put q --raw'
	run -0 mpqueue size q
	[ "$output" = 0 ]
}

@test "a line of stdin longer than a large --max-msg is refused without being stored" {
	mpqueue create q --max-msg 300K --max-bytes 1M
	run -65 bash -c 'head -c 400000 /dev/zero | tr "\0" x | mpqueue put q'
	run -0 mpqueue size q
	[ "$output" = 0 ]
}

# ---- put and get ----

@test "each argument of put is a message and get prints one message and a newline" {
	mpqueue put q one "two words" ""
	run -0 mpqueue size q
	[ "$output" = 3 ]
	run -0 mpqueue get q
	[ "$output" = one ]
	run -0 mpqueue get q
	[ "$output" = "two words" ]
	mpqueue get q >"$BATS_TEST_TMPDIR/empty"
	[ "$(od -An -c "$BATS_TEST_TMPDIR/empty" | tr -d ' ')" = '\n' ]
}

@test "messages keep FIFO order for one producer" {
	seq 5000 | mpqueue put q
	mpqueue get q --all >"$BATS_TEST_TMPDIR/out"
	seq 5000 | cmp - "$BATS_TEST_TMPDIR/out"
}

@test "put reads one message per line of stdin, the last one without its newline too" {
	printf 'a\n\nb c\nlast' | mpqueue put q
	run -0 mpqueue size q
	[ "$output" = 4 ]
	run -0 mpqueue get q --count 4
	[ "$output" = $'a\n\nb c\nlast' ]
}

@test "put splits stdin right whatever the line lengths and however many lines one read brings" {
	# lengths 0 to 40 in every order around the 16-byte blocks the
	# separators are searched in, and 20000 short lines (more than one
	# batch of a read), newline- and NUL-separated
	mpqueue create q --max-items 100000 --max-bytes 4M
	local i j
	for i in 1 2 3; do
		for j in $(seq 0 40); do
			head -c "$j" /dev/zero | tr '\0' "$(printf "\\$(printf %o $((97 + (i + j) % 26)))")"
			echo
		done
	done >"$BATS_TEST_TMPDIR/in"
	seq 20000 >>"$BATS_TEST_TMPDIR/in"
	mpqueue put q <"$BATS_TEST_TMPDIR/in"
	run -0 mpqueue size q
	[ "$output" = $((3 * 41 + 20000)) ]
	mpqueue get q --all >"$BATS_TEST_TMPDIR/out"
	cmp "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
	tr '\n' '\0' <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/in0"
	mpqueue put q -z <"$BATS_TEST_TMPDIR/in0"
	mpqueue get q -z --all >"$BATS_TEST_TMPDIR/out0"
	cmp "$BATS_TEST_TMPDIR/in0" "$BATS_TEST_TMPDIR/out0"
}

@test "-z separates messages with NUL on put and on get" {
	printf 'a\nb\0c\0' | mpqueue put q -z
	run -0 mpqueue size q
	[ "$output" = 2 ]
	mpqueue get q -z --all >"$BATS_TEST_TMPDIR/out"
	printf 'a\nb\0c\0' | cmp - "$BATS_TEST_TMPDIR/out"
}

@test "binary payloads (NUL bytes, invalid UTF-8) round-trip byte for byte with --raw" {
	local f=$BATS_TEST_TMPDIR/bin
	{ printf '\0\377\376\300\200x\0'; head -c 50000 /dev/urandom; printf '\0'; } >"$f"
	mpqueue put q --raw <"$f"
	mpqueue get q --raw >"$f.out"
	cmp "$f" "$f.out"
}

@test "a 1 MiB message round-trips with --max-msg 2M" {
	local f=$BATS_TEST_TMPDIR/big
	head -c 1048576 /dev/urandom >"$f"
	mpqueue create q --max-msg 2M
	mpqueue put q --raw <"$f"
	run -0 qfield q bytes
	[ "$output" = 1048576 ]
	mpqueue get q --raw >"$f.out"
	cmp "$f" "$f.out"
}

@test "put --raw of empty stdin puts one empty message" {
	mpqueue put q --raw </dev/null
	run -0 mpqueue size q
	[ "$output" = 1 ]
}

@test "an empty queue makes get -n exit 75 and get -t exit 124" {
	mpqueue create q
	run -75 mpqueue get q -n
	run -124 mpqueue get q -t 0.1
	run -75 mpqueue get q -t 0
	run -9 mpqueue get q -n -E 9
}

@test "get waits for a message put later" {
	mpqueue create q
	start_bg bash -c "mpqueue get q >'$BATS_TEST_TMPDIR/out'"
	wait_until 5 field_is q getters 1
	mpqueue put q late
	wait_until 5 file_has "$BATS_TEST_TMPDIR/out" late
}

@test "a full queue makes put wait until a get makes room" {
	mpqueue create q --max-items 1
	mpqueue put q first
	start_bg mpqueue put q second
	local putter=$BG_PID
	wait_until 5 field_is q putters 1
	run -0 mpqueue get q
	[ "$output" = first ]
	exits_with "$putter" 0
	run -0 mpqueue get q
	[ "$output" = second ]
}

@test "a full queue makes put -n exit 75 and put -t exit 124" {
	mpqueue create q --max-items 1
	mpqueue put q a
	run -75 mpqueue put q -n b
	run -124 mpqueue put q -t 0.1 b
	run -7 mpqueue put q -t 0.1 -E 7 b
	run -0 mpqueue size q
	[ "$output" = 1 ]
}

@test "get --count N takes up to N messages and waits for the first only" {
	mpqueue put q a b
	run -0 mpqueue get q --count 5
	[ "$output" = $'a\nb' ]
	mpqueue put q c d e
	run -0 mpqueue get q --count 2
	[ "$output" = $'c\nd' ]
	start_bg bash -c "mpqueue get q --count 3 >/dev/null; mpqueue get q --count 3 >'$BATS_TEST_TMPDIR/out'"
	wait_until 5 field_is q getters 1
	mpqueue put q f
	wait_until 5 file_has "$BATS_TEST_TMPDIR/out" f
}

@test "get --all takes every message there, and -n makes it exit 75 on an empty queue" {
	mpqueue put q a b c
	run -0 mpqueue get q --all
	[ "$output" = $'a\nb\nc' ]
	run -75 mpqueue get q --all -n
}

@test "get --raw --count writes the messages with nothing between them" {
	mpqueue put q ab cd
	run -0 mpqueue get q --raw --count 2
	[ "$output" = abcd ]
}

# ---- close ----

@test "after close, put exits 2 and enqueues nothing; get drains and then exits 2" {
	mpqueue put q a b
	mpqueue close q
	run --separate-stderr -2 mpqueue put q c
	[[ $stderr == *"is closed"* ]]
	run -2 bash -c 'echo d | mpqueue put q'
	run -0 mpqueue size q
	[ "$output" = 2 ]
	run -0 mpqueue get q
	[ "$output" = a ]
	run -0 mpqueue get q --count 5
	[ "$output" = b ]
	run -2 mpqueue get q
	run -2 mpqueue get q -n
	run -0 qfield q closed
	[ "$output" = true ]
}

@test "a getter loop ends by itself when the queue is closed" {
	mpqueue put q 1 2 3
	mpqueue close q
	run -0 bash -c 'n=0; while m=$(mpqueue get q); do n=$((n + m)); done; echo "$n $?"'
	[ "$output" = "6 0" ]
	run -2 bash -c 'while m=$(mpqueue get q); do :; done; m=$(mpqueue get q)'
}

@test "close wakes a waiting getter, which exits 2, and a waiting putter, which exits 2" {
	mpqueue create g
	mpqueue create p --max-items 1
	mpqueue put p x
	start_bg mpqueue get g
	local getter=$BG_PID
	start_bg mpqueue put p y
	local putter=$BG_PID
	wait_until 5 field_is g getters 1
	wait_until 5 field_is p putters 1
	mpqueue close g
	mpqueue close p
	exits_with "$getter" 2
	exits_with "$putter" 2
}

@test "get --follow prints every message until the queue is closed and drained" {
	mpqueue create q
	start_bg bash -c "mpqueue get q --follow >'$BATS_TEST_TMPDIR/out'; echo \$? >'$BATS_TEST_TMPDIR/st'"
	seq 1000 | mpqueue put q
	mpqueue put q last
	mpqueue close q
	wait_until 10 test -s "$BATS_TEST_TMPDIR/st"
	[ "$(cat "$BATS_TEST_TMPDIR/st")" = 0 ]
	{ seq 1000; echo last; } | cmp - "$BATS_TEST_TMPDIR/out"
	run -64 mpqueue get q --follow -n
}

@test "put --close closes the queue once stdin is in: a following getter ends like a pipe's reader" {
	mpqueue create q
	start_bg bash -c "mpqueue get q --follow >'$BATS_TEST_TMPDIR/out'; echo \$? >'$BATS_TEST_TMPDIR/st'"
	run -0 bash -c 'seq 500 | mpqueue put q --close'
	wait_until 10 test -s "$BATS_TEST_TMPDIR/st"
	[ "$(cat "$BATS_TEST_TMPDIR/st")" = 0 ]
	seq 500 | cmp - "$BATS_TEST_TMPDIR/out"
	run -0 qfield q closed
	[ "$output" = true ]
	run -2 mpqueue put q more
}

@test "put --close with messages as arguments puts them, then closes" {
	run --separate-stderr -0 mpqueue put q a b --close -v
	[[ $stderr == *"closed 'q'"* ]]
	run -0 qfield q closed
	[ "$output" = true ]
	run -0 mpqueue get q --all
	[ "$output" = $'a\nb' ]
	run -2 mpqueue get q
}

@test "put --close leaves the queue open when a message could not be put" {
	mpqueue create q --max-items 1 --max-msg 10
	# too large: nothing of it is put, and the queue stays open
	run -65 mpqueue put q 12345678901 --close
	run -0 qfield q closed
	[ "$output" = false ]
	# full with -n: the first is in, the second not; still open
	run -75 mpqueue put q a b -n --close
	run -0 qfield q closed
	[ "$output" = false ]
	run -75 bash -c 'printf "x\ny\n" | mpqueue put q -n --close'
	run -0 qfield q closed
	[ "$output" = false ]
	# a signal while it waits for room: still open
	start_bg mpqueue put q x --close
	wait_until 5 field_is q putters 1
	kill -TERM "$BG_PID"
	exits_with "$BG_PID" 143
	run -0 qfield q closed
	[ "$output" = false ]
	run -0 mpqueue get q
	[ "$output" = a ]
}

@test "--close is for put only" {
	run --separate-stderr -64 mpqueue get q --close
	[[ $stderr == *"--close is for put"* ]]
}

@test "get --follow -t exits 124 when no message came for that long, after printing what came" {
	mpqueue put q a b
	run --separate-stderr -124 mpqueue get q --follow -t 0.2
	[ "$output" = $'a\nb' ]
	run -0 mpqueue size q
	[ "$output" = 0 ]
}

@test "4 producers x 500 messages and 3 consumers: every message got exactly once" {
	local d=$BATS_TEST_TMPDIR p c consumers=() producers=()
	mpqueue create q --max-items 50
	for c in 1 2 3; do
		start_bg bash -c "mpqueue get q --follow >'$d/c$c'"
		consumers+=("$BG_PID")
	done
	for p in 1 2 3 4; do
		start_bg bash -c "seq -f 'p$p-%g' 500 | mpqueue put q"
		producers+=("$BG_PID")
	done
	for p in "${producers[@]}"; do
		exits_with "$p" 0
	done
	mpqueue close q
	for c in "${consumers[@]}"; do
		exits_with "$c" 0
	done
	sort "$d"/c? >"$d/all"
	for p in 1 2 3 4; do seq -f "p$p-%g" 500; done | sort | cmp - "$d/all"
	# each consumer saw each producer's messages in order
	for c in 1 2 3; do
		for p in 1 2 3 4; do
			grep "^p$p-" "$d/c$c" | sort -c -t- -k2n
		done
	done
}

# ---- a message leaves only once written ----

@test "get into a pipe whose reader is gone exits 74 and the message stays first in the queue" {
	local d=$BATS_TEST_TMPDIR
	mpqueue put q first second
	{
		wait_until 5 test -e "$d/closed"
		rc=0
		mpqueue get q 2>"$d/err" || rc=$?
		echo "$rc" >"$d/st"
	} | {
		exec 0<&-
		touch "$d/closed"
	}
	[ "$(cat "$d/st")" = 74 ]
	grep -q "Broken pipe" "$d/err"
	run -0 mpqueue get q --count 2
	[ "$output" = $'first\nsecond' ]
}

@test "get >/dev/full exits 74 and the message stays in the queue" {
	mpqueue put q keep
	run --separate-stderr -74 bash -c 'mpqueue get q >/dev/full'
	[[ $stderr == *"No space left on device"* ]]
	run -74 bash -c 'mpqueue get q --all >/dev/full'
	run -0 mpqueue get q
	[ "$output" = keep ]
}

@test "a get killed by SIGKILL while writing a message loses nothing" {
	local d=$BATS_TEST_TMPDIR
	mpqueue create q --max-msg 1M
	head -c 300000 /dev/urandom >"$d/big"
	mpqueue put q --raw <"$d/big"
	mpqueue put q after
	mkfifo "$d/fifo"
	# a reader that opens the fifo and never reads: get blocks in write()
	start_bg bash -c "exec sleep 1000 <'$d/fifo'"
	start_bg bash -c "exec mpqueue get q --raw >'$d/fifo'"
	local getter=$BG_PID
	wait_until 5 field_is q in_flight 1
	kill9 "$getter"
	mpqueue get q --raw >"$d/big.out"
	cmp "$d/big" "$d/big.out"
	run -0 mpqueue get q
	[ "$output" = after ]
	run -0 qfield q redelivered
	[ "$output" = 1 ]
}

@test "a put or get killed by SIGKILL at random points never corrupts, loses or duplicates" {
	local d=$BATS_TEST_TMPDIR/stress
	mkdir -p "$d"
	run -0 t-queue-stress "$MP_TOP_BUILDDIR/src/mpqueue" stress "$d" 600 450 "$RANDOM"
	echo "$output"
	[[ $output == *" 0 lost, 0 duplicated"* ]]
	[ -n "${MP_TEST_STORE:-}" ] || run -0 t-queue check stress
}

@test "the queue's invariants hold while its users are SIGKILLed inside its mutex" {
	local_store_only
	run -0 t-queue hammer h 3 6 "$RANDOM"
	echo "$output"
	run -0 t-queue check h
}

# ---- leases ----

@test "get --lease keeps the message in flight until ack" {
	mpqueue put q m1 m2
	run -0 bash -c 'mpqueue get q --lease; mpqueue info q --json; mpqueue ack q; mpqueue info q --json'
	[[ ${lines[0]} == m1 ]]
	[[ ${lines[1]} == *'"items":1,'*'"in_flight":1,'*'"leased":true'* ]]
	[[ ${lines[2]} == *'"items":1,'*'"in_flight":0,'* ]]
	run -0 mpqueue get q -n
	[ "$output" = m2 ]
}

@test "leased messages of a consumer killed by SIGKILL are delivered again, acked ones never" {
	local d=$BATS_TEST_TMPDIR
	mpqueue put q m1 m2 m3
	start_bg bash -c "mpqueue get q --lease >'$d/1' && mpqueue ack q &&
		mpqueue get q --lease >'$d/2' && exec sleep 1000"
	local consumer=$BG_PID
	wait_until 5 file_has "$d/2" m2
	[ "$(cat "$d/1")" = m1 ]
	run -0 qfield q in_flight
	[ "$output" = 1 ]
	kill9 "$consumer"
	run -0 mpqueue get q --count 5 -n
	[ "$output" = $'m2\nm3' ]
	run -0 qfield q redelivered
	[ "$output" = 1 ]
}

@test "a leased message whose --ttl runs out goes back to the head of the queue" {
	mpqueue put q a b
	# long enough that the two gets below come before it runs out, even
	# in a sanitized build on a loaded machine (0.2 s was not)
	run -0 mpqueue get q --lease --ttl 2 --owner none
	[ "$output" = a ]
	run -0 mpqueue get q -n
	[ "$output" = b ]
	run -75 mpqueue get q -n
	wait_until 10 field_is q items 1
	run -0 mpqueue get q
	[ "$output" = a ]
	run -1 mpqueue ack q --owner none
}

@test "ack by another owner exits 1 unless --force, and ack TOKEN acks that lease" {
	mpqueue put q a b c d
	run -0 mpqueue get q --lease --owner $$ -v
	[[ $output == *"token 1"* ]]
	run -0 mpqueue get q --lease --owner $$
	start_bg sleep 1000
	local other=$BG_PID
	run --separate-stderr -1 mpqueue ack q --owner "$other"
	[[ $stderr == *"no message is leased to pid $other"* ]]
	run --separate-stderr -1 mpqueue ack q 2 --owner "$other"
	[[ $stderr == *"lease 2 is not held by pid $other"* ]]
	run -0 mpqueue ack q 2 --owner $$
	run -1 mpqueue ack q 2 --owner $$
	run -0 mpqueue ack q --owner $$		# its other lease, token 1
	run -1 mpqueue ack q --owner $$
	run -0 mpqueue get q --lease --owner $$
	run -0 mpqueue ack q --owner "$other" --force
	# a lease without an owner may be acked by anyone
	run -0 mpqueue get q --lease --owner none
	run -0 mpqueue ack q --owner "$other"
	run -0 qfield q in_flight
	[ "$output" = 0 ]
	run -0 mpqueue size q
	[ "$output" = 0 ]
}

@test "ack with nothing leased exits 1, and ack of a queue that does not exist exits 66" {
	mpqueue create q
	run --separate-stderr -1 mpqueue ack q
	[[ $stderr == *"no leased message"* ]]
	run -66 mpqueue ack nosuch
	run -64 mpqueue ack q notanumber
}

@test "get --count N --lease leases the messages under one token" {
	mpqueue put q a b c
	run -0 bash -c 'mpqueue get q --count 2 --lease && mpqueue info q --json'
	[ "${lines[0]}" = a ]
	[ "${lines[1]}" = b ]
	[[ ${lines[2]} == *'"in_flight":2,'*'"messages":2,'* ]]
	run -64 mpqueue get q --lease --all
	run -64 mpqueue get q --lease --follow
	run -64 mpqueue get q --ttl 1
}

@test "the library's leased get hands a message to its caller and ack removes it" {
	mpqueue put q "via the library"
	run -0 t-queue lease q
	[ "$output" = "via the library" ]
	run -0 qfield q acks
	[ "$output" = 1 ]
}

# ---- done and join ----

@test "join returns exactly when the count of done reaches the count of puts" {
	mpqueue put q a b c
	start_bg mpqueue join q
	local joiner=$BG_PID
	mpqueue get q --all >/dev/null
	mpqueue done q
	mpqueue done q
	run -124 mpqueue join q -t 0.2
	alive "$joiner"
	mpqueue done q
	exits_with "$joiner" 0
	run -0 mpqueue join q -n
}

@test "join -t exits 124 and join -n exits 75 while messages are unfinished" {
	mpqueue put q a
	run -124 mpqueue join q -t 0.1
	run -75 mpqueue join q -n
	run -0 mpqueue done q
	run -0 mpqueue join q -t 0.1
}

@test "done --count N marks N messages done, and more dones than puts exit 1 changing nothing" {
	mpqueue put q a b c
	run -0 mpqueue done q --count 2
	run -0 qfield q unfinished
	[ "$output" = 1 ]
	run --separate-stderr -1 mpqueue done q --count 2
	[[ $stderr == *"only 1 message of 'q' is unfinished"* ]]
	run -0 qfield q unfinished
	[ "$output" = 1 ]
	run -0 mpqueue done q
	run -1 mpqueue done q
	run -66 mpqueue done nosuch
}

# ---- state, ls, rm, errors ----

@test "size prints the messages waiting, not those in flight" {
	mpqueue put q a b c
	run -0 mpqueue size q
	[ "$output" = 3 ]
	mpqueue get q --lease --owner none >/dev/null
	run -0 mpqueue size q
	[ "$output" = 2 ]
	run -66 mpqueue size nosuch
}

@test "info --json shows items, bytes, unfinished, in flight, closed and waiters" {
	mpqueue put q abc de
	run -0 mpqueue info q --json
	[[ $output == *'"items":2,"bytes":5,"unfinished":2,"in_flight":0,'* ]]
	[[ $output == *'"closed":false,"waiters":0,'* ]]
	run -66 mpqueue info nosuch
}

@test "ls lists the queues, also as JSON" {
	mpqueue put a x
	mpqueue create b
	run -0 mpqueue ls
	[[ ${lines[1]} == "a "*"1/16384 items, 0 in flight"* ]]
	[[ ${lines[2]} == "b "*"0/16384 items, 0 in flight"* ]]
	run -0 mpqueue ls --json
	[[ $output == '[{"name":"a"'*'{"name":"b"'*']' ]]
}

@test "rm wakes waiting getters, putters and joiners, which exit 66" {
	mpqueue create g
	mpqueue create p --max-items 1
	mpqueue put p x
	start_bg mpqueue get g
	local getter=$BG_PID
	start_bg mpqueue put p y
	local putter=$BG_PID
	start_bg mpqueue join p
	local joiner=$BG_PID
	wait_until 5 field_is g getters 1
	wait_until 5 field_is p waiters 2
	mpqueue rm g
	mpqueue rm p
	exits_with "$getter" 66
	exits_with "$putter" 66
	exits_with "$joiner" 66
	run -66 mpqueue info g
	run -66 mpqueue rm g
}

@test "SIGTERM and SIGINT end a waiting get with 143 and 130, holding nothing" {
	mpqueue create q
	start_bg mpqueue get q
	local a=$BG_PID
	start_bg mpqueue get q
	local b=$BG_PID
	wait_until 5 field_is q getters 2
	kill -TERM "$a"
	kill -INT "$b"
	exits_with "$a" 143
	exits_with "$b" 130
	mpqueue put q x
	run -0 mpqueue get q -n
	[ "$output" = x ]
	run -0 qfield q in_flight
	[ "$output" = 0 ]
}

@test "bad names, unknown verbs and misplaced options are usage errors (64)" {
	run --separate-stderr -64 mpqueue put 'bad/name' x
	[[ $stderr == *"bad name"* ]]
	run -64 mpqueue frobnicate q
	run -64 mpqueue get
	run -64 mpqueue put q --max-items 3 x
	run -64 mpqueue get q -z --raw
	run -64 mpqueue size q extra
	run -64 mpqueue done q --all
	run -64 mpqueue put q --raw x
	run -64 --separate-stderr mpqueue get q --lease --ttl 0
	[[ $stderr == *"--ttl: must be more than 0"* ]]
	run -64 --separate-stderr mpqueue get q --lease --ttl soon
	[[ $stderr == *"--ttl: 'soon' is not a duration"* ]]
	run -64 --separate-stderr mpqueue ack q --owner abc
	[[ $stderr == *"bad --owner 'abc'"* ]]
	run -64 mpqueue get q --force
	# one meaning per letter: -c is a command string in every tool, and
	# mpqueue has none; the count is --count only
	run -64 --separate-stderr mpqueue get q -c 2
	[[ $stderr == *"invalid option -- 'c'"* ]]
	run -64 mpqueue done q -c 2
	run -0 mpqueue --help
	[[ $output == *"--count=N"* ]]
	[[ $output != *"-c, --count"* ]]
	[[ $output == *"put NAME [MSG...]"* ]]
}

@test "messages that look like options go after --" {
	mpqueue put q -- -n --all
	run -0 mpqueue get q --count 2
	[ "$output" = $'-n\n--all' ]
}

@test "an object of another kind, or a corrupt one, is refused with 65" {
	local_store_only
	mplock create x
	cp "$MP_DIR/lock.x" "$MP_DIR/queue.x"
	run --separate-stderr -65 mpqueue size x
	[[ $stderr == *"is a lock object, not a queue"* ]]
	mpqueue put q a
	# tail = 3: not a record boundary
	printf '\003' | dd of="$MP_DIR/queue.q" bs=1 seek=368 conv=notrunc status=none
	run --separate-stderr -65 mpqueue get q
	[[ $stderr == *"corrupt"* ]]
	printf 'short' >"$MP_DIR/queue.s"
	chmod 600 "$MP_DIR/queue.s"
	run -65 mpqueue info s
}

@test "rm removes a damaged queue, saying so" {
	local_store_only
	mpqueue ls >/dev/null	# makes the store
	printf 'short' >"$MP_DIR/queue.d"
	chmod 600 "$MP_DIR/queue.d"
	run --separate-stderr -0 mpqueue rm d
	[[ $stderr == *"removed a damaged object"* ]]
	[ ! -e "$MP_DIR/queue.d" ]
}

@test "a queue unlinked or truncated behind waiting processes wakes them with 66 and 65" {
	local_store_only
	mpqueue create u
	mpqueue put t x
	start_bg mpqueue get u
	local getter=$BG_PID
	start_bg mpqueue join t -t 10
	local joiner=$BG_PID
	wait_until 5 field_is u getters 1
	wait_until 5 field_is t getters 1
	rm -f "$MP_DIR/queue.u"
	exits_with "$getter" 66
	truncate -s 4096 "$MP_DIR/queue.t"
	exits_with "$joiner" 65
}

@test "a queue file writable by others is refused with 77" {
	local_store_only
	mpqueue create q
	chmod o+w "$MP_DIR/queue.q"
	run --separate-stderr -77 mpqueue put q x
	[[ $stderr == *"writable by others"* ]]
}

@test "a queue that does not fit in the store exits 73" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a tiny tmpfs"
	local tiny=$BATS_TEST_TMPDIR/tiny
	mkdir -p "$tiny"
	mount -t tmpfs -o size=64k tmpfs "$tiny" || skip "cannot mount tmpfs here"
	run --separate-stderr -73 mpqueue --dir "$tiny" create q --max-bytes 1M
	umount "$tiny"
	[[ $stderr == *"cannot allocate"* ]]
}

# ---- is-empty, is-full (Queue.empty(), Queue.full()) ----

@test "is-empty and is-full answer 0 yes and 1 no as messages come and go" {
	mpqueue create q --max-items 2
	run -0 mpqueue is-empty q
	run -1 mpqueue is-full q
	mpqueue put q a
	run -1 mpqueue is-empty q
	run -1 mpqueue is-full q
	mpqueue put q b
	run -0 mpqueue is-full q
	run -75 mpqueue put -n q c
	mpqueue get q
	run -1 mpqueue is-full q
	mpqueue get q
	run -0 mpqueue is-empty q
}

@test "is-full counts bytes too, and a leased message still takes its room" {
	mpqueue create q --max-items 10 --max-bytes 8 --max-msg 8
	mpqueue put q 12345678
	run -0 mpqueue is-full q
	mpqueue get q --lease --owner none >/dev/null
	run -0 mpqueue is-empty q
	run -0 mpqueue is-full q
	mpqueue ack q --owner none
	run -1 mpqueue is-full q
}

@test "is-empty and is-full of a missing queue exit 66 and create nothing" {
	run -66 mpqueue is-empty nope
	run -66 mpqueue is-full nope
	[ ! -e "$MP_DIR/queue.nope" ]
}

@test "mpqueue reopen: a closed queue takes puts again and getters see the new messages" {
	mpqueue put Q a --close
	run -2 --separate-stderr mpqueue put Q b
	[[ $stderr == *"closed"* ]]
	run -0 mpqueue get Q
	[ "$output" = a ]
	run -2 mpqueue get Q
	run -0 mpqueue reopen Q
	# a getter waiting on the reopened queue gets what comes
	start_bg sh -c 'mpqueue get Q >"$1"' sh "$BATS_TEST_TMPDIR/got"
	wait_until 10 bash -c '[ "$(mpqueue info Q --json | grep -o "\"getters\":[0-9]*")" = "\"getters\":1" ]'
	run -0 mpqueue put Q c
	wait_until 10 file_has "$BATS_TEST_TMPDIR/got" c
	run -0 mpqueue info Q --json
	[[ $output == *'"closed":false'* ]]
	# reopen makes the queue when there is none, as close does
	run -0 mpqueue reopen fresh
	run -0 mpqueue info fresh
}

@test "mpqueue --lease DURATION sets the length of holds, before the verb or as --lease=D; a bare --lease is get's" {
	mpqueue put q m1 m2
	run -0 mpqueue --lease 2s get q
	[ "$output" = m1 ]
	run -0 mpqueue get q --lease=1.5s --lease --owner none
	[ "$output" = m2 ]
	run -0 qfield q in_flight
	[ "$output" = 1 ]
	run -64 mpqueue --lease ack q --owner none
	run -0 mpqueue ack q --owner none
	run -64 --separate-stderr mpqueue --lease 50ms get q -n
	[[ $stderr == *"at least 100ms"* ]]
	run -64 mpqueue --lease 1x get q -n
	run -64 mpqueue --lease put q x
}
