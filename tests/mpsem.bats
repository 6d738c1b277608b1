#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mpsem: counting semaphores with owners (DESIGN §5), and --posix.
load helpers/common

setup() {
	mp_common_setup
	T=$BATS_TEST_TMPDIR
	# A race-free count of the commands inside: DIR/n is changed only under
	# flock(1) (a lock independent of mptools), right after the command
	# got its slot and right before it gives it back, so n never exceeds
	# the number of slots really held; DIR/max is the most ever seen.
	C=$T/count
	mkdir -p "$C"
	echo 0 >"$C/n"
	echo 0 >"$C/max"
	: >"$C/ran"
	cat >"$T/inside.sh" <<'EOF'
# sh inside.sh DIR TARGET ID: count in; stay until TARGET commands were
# inside at once (at most 5 s) and a moment more; count out; note ID.
d=$1 target=$2
flock "$d/lock" sh -c 'n=$(($(cat "$1/n") + 1)); echo $n >"$1/n"
	[ $n -le $(cat "$1/max") ] || echo $n >"$1/max"' _ "$d"
i=0
while [ "$(cat "$d/max")" -lt "$target" ] && [ $i -lt 250 ]; do
	sleep 0.02
	i=$((i + 1))
done
sleep 0.05
flock "$d/lock" sh -c 'echo $(($(cat "$1/n") - 1)) >"$1/n"' _ "$d"
echo "$3" >>"$d/ran"
EOF
}

teardown() {
	mp_common_teardown
	if [ -n "${SMALL:-}" ] && mountpoint -q "$SMALL"; then
		umount "$SMALL"
	fi
	# glibc's file for /NAME; not t-posix-sem unlink, which may not be built
	rm -f "/dev/shm/sem.mpsem-bats-$$"
}

# waiters NAME N: NAME has N processes waiting in line.
waiters() {
	mpsem info "$1" | grep -qx "waiters:  $2"
}

# holders NAME N: NAME has N slots held.
holders() {
	mpsem info "$1" | grep -qx "holders:  $2"
}

# bg NAME ARGS...: mpsem -v run --bg NAME ARGS; the command's pid in $CMD_PID
# (and killed in teardown).  The command must not keep stdout open.
bg() {
	CMD_PID=$(mpsem -v run --bg "$@" 3>&-)
	echo "$CMD_PID" >>"$BG_PIDS"
}

# stopped PID: PID is stopped (state T).
stopped() {
	[ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" = T ]
}

# ---- run ----

@test "run holds a slot while the command runs and exits with its status" {
	run -7 mpsem run S -j 2 -- sh -c 'mpsem value S; exit 7'
	[ "$output" = 1 ]
	run -0 mpsem value S
	[ "$output" = 2 ]
}

@test "run gives the command MP_SEM_NAME, MP_SEM_SLOT and MP_SEM_TOKEN" {
	run -0 mpsem run S -c 'echo "$MP_SEM_NAME $MP_SEM_SLOT $MP_SEM_TOKEN"'
	[ "$output" = "S 0 1" ]
	run -0 mpsem run S -c 'echo "$MP_SEM_TOKEN"'
	[ "$output" = 2 ]
}

@test "options after the command's first word belong to the command" {
	run -0 mpsem run S echo -n -j 5
	[ "$output" = "-j 5" ]
}

@test "20 concurrent run -j 3 never have more than 3 commands inside at once and all 20 run" {
	local pids=() i p
	for i in $(seq 20); do
		mpsem run S -j 3 -- sh "$T/inside.sh" "$C" 3 "$i" 3>&- &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	[ "$(cat "$C/max")" = 3 ]
	[ "$(cat "$C/n")" = 0 ]
	[ "$(sort -n "$C/ran" | tr '\n' ' ')" = "$(seq 20 | tr '\n' ' ')" ]
	run -0 mpsem value S
	[ "$output" = 3 ]
}

@test "the commands inside at once have different slot numbers 0..N-1" {
	local pids=() i p
	for i in 1 2 3; do
		mpsem run S -j 3 -- sh -c 'echo $MP_SEM_SLOT >>"$1/slots"
			sh "$1/../inside.sh" "$1" 3 x' _ "$C" 3>&- &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	[ "$(sort "$C/slots" | tr '\n' ' ')" = "0 1 2 " ]
}

@test "run -c runs the string with /bin/sh" {
	run -0 mpsem run S -c 'echo a; echo b'
	[ "$output" = "$(printf 'a\nb')" ]
}

@test "run forwards SIGTERM to the command and releases the slot" {
	start_bg mpsem run S -- sh -c 'trap "exit 42" TERM; echo $$ >"$1"
		while :; do sleep 0.02; done' _ "$T/cmd.pid"
	local w=$BG_PID st=0
	wait_until 5 test -s "$T/cmd.pid"
	kill -TERM "$w"
	wait "$w" || st=$?
	[ "$st" = 42 ]
	run -0 mpsem value S
	[ "$output" = 1 ]
}

@test "run exits 128+N when the command dies by signal N" {
	run -137 mpsem run S -- sh -c 'kill -KILL $$'
	run -0 mpsem value S
	[ "$output" = 1 ]
}

@test "run exits 127 for a command not found and 126 for one that cannot be executed" {
	run -127 --separate-stderr mpsem run S -- no-such-command-here
	[[ $stderr == *"no-such-command-here"* ]]
	: >"$T/noexec"
	run -126 mpsem run S -- "$T/noexec"
	run -127 mpsem run --bg S -- no-such-command-here
}

# ---- run --bg and drain ----

@test "run --bg returns at once holding a slot that comes back when the command ends" {
	# (not in `run`: the command keeps the output open, like "cmd &")
	mpsem run --bg S -j 2 -- sh -c 'while [ ! -e "$1" ]; do sleep 0.02; done' _ "$T/go" \
		>"$T/out" 2>&1 3>&-
	[ ! -s "$T/out" ]
	run -0 mpsem value S
	[ "$output" = 1 ]
	run -0 mpsem info S
	[[ $output == *"command pid"* ]]
	touch "$T/go"
	run -0 mpsem drain S -t 5
	run -0 mpsem value S
	[ "$output" = 2 ]
}

@test "run --bg -v prints the pid of the command, which gets /dev/null as stdin" {
	bg S -- sh -c 'exec readlink /proc/self/fd/0 >"$1"' _ "$T/stdin"
	[[ $CMD_PID =~ ^[0-9]+$ ]]
	mpsem drain S -t 5
	[ "$(cat "$T/stdin")" = /dev/null ]
}

@test "run --bg in a loop of 12 with -j 4 then drain returns after all 12 finished, never more than 4 running" {
	local i
	for i in $(seq 12); do
		mpsem run --bg S -j 4 -- sh "$T/inside.sh" "$C" 4 "$i" 3>&-
	done
	mpsem drain S
	# drain returned: every command has ended, so each noted its id
	[ "$(sort -n "$C/ran" | tr '\n' ' ')" = "$(seq 12 | tr '\n' ' ')" ]
	[ "$(cat "$C/max")" = 4 ]
	[ "$(cat "$C/n")" = 0 ]
}

@test "run --bg -n exits 75 and starts nothing when no slot is free" {
	mpsem acquire S --owner none
	run -75 mpsem run --bg -n S -- touch "$T/ran"
	run -124 mpsem run --bg -t 100ms S -- touch "$T/ran"
	[ ! -e "$T/ran" ]
	waiters S 0
}

@test "drain waits until every slot is free" {
	mpsem acquire S -j 2 --owner none
	mpsem acquire S --owner none
	start_bg mpsem drain S
	local d=$BG_PID st=0
	mpsem release S --owner none
	run -124 mpsem drain S -t 100ms
	mpsem release S --owner none
	wait "$d" || st=$?
	[ "$st" = 0 ]
}

# in_futex PID: PID sleeps in a futex wait (sem_wait, or a gate's wait).
in_futex() {
	grep -q futex "/proc/$1/wchan" 2>/dev/null
}

# nlines FILE N: FILE has N lines.
nlines() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -eq "$2" ]
}

@test "drain -t exits 124 and drain -n exits 75 while a slot is held" {
	mpsem acquire S --owner none
	run -124 mpsem drain S -t 100ms
	run -75 mpsem drain S -n
	run -0 mpsem drain S -n -E 0
}

@test "drain of a semaphore that never existed returns 0 at once" {
	run -0 mpsem drain never-made
	run -66 mpsem value never-made
}

# ---- owners die: slots come back, never handed out twice ----

@test "SIGKILL of a run wrapper gives its slot back within a second, after its command died" {
	start_bg mpsem run S -- sh -c 'echo $$ >"$1"; exec sleep 1000' _ "$T/cmd.pid"
	local w=$BG_PID cmd
	wait_until 5 test -s "$T/cmd.pid"
	cmd=$(cat "$T/cmd.pid")
	echo "$cmd" >>"$BG_PIDS"
	run -75 mpsem acquire -n S --owner none
	kill -KILL "$w"
	run -0 mpsem acquire -t 1 S --owner none
	# no over-admission: the command was dead when the slot was given again
	dead "$cmd"
}

@test "a waiter blocked behind a SIGKILLed wrapper gets in within a second, never beside its command" {
	start_bg mpsem run S -- sh -c 'echo $$ >"$1"; exec sleep 1000' _ "$T/cmd.pid"
	local w=$BG_PID cmd
	wait_until 5 test -s "$T/cmd.pid"
	cmd=$(cat "$T/cmd.pid")
	echo "$cmd" >>"$BG_PIDS"
	start_bg mpsem run S -- sh -c '
		st=$(sed "s/.*) //" /proc/$1/stat 2>/dev/null | cut -d" " -f1)
		case $st in ""|Z|X) echo dead ;; *) echo ALIVE ;; esac >"$2"' _ "$cmd" "$T/b.out"
	wait_until 5 waiters S 1
	kill -KILL "$w"
	wait_until 1 test -s "$T/b.out"
	[ "$(cat "$T/b.out")" = dead ]
}

@test "SIGKILL of a --bg command gives its slot back within a second" {
	bg S -c 'exec sleep 1000 >/dev/null'
	run -75 mpsem acquire -n S --owner none
	kill -KILL "$CMD_PID"
	run -0 mpsem acquire -t 1 S --owner none
}

@test "SIGKILL of a --bg supervisor kills its command and gives the slot back within a second" {
	local sup
	bg S -c 'exec sleep 1000 >/dev/null'
	sup=$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$CMD_PID/stat")
	run -0 mpsem info S
	[[ $output == *"pid $sup "*"command pid $CMD_PID"* ]]
	kill -KILL "$sup"
	run -0 mpsem acquire -t 1 S --owner none
	dead "$CMD_PID"
}

@test "SIGKILL of an --owner process gives its slot back within a second" {
	start_bg sleep 1000
	local owner=$BG_PID
	mpsem acquire S -j 2 --owner "$owner"
	mpsem acquire S --owner "$owner"
	run -75 mpsem acquire -n S --owner none
	kill -KILL "$owner"
	run -0 mpsem acquire -t 1 S --owner none
	run -0 mpsem value S
	[ "$output" = 1 ]
}

@test "acquire without --owner is owned by the calling shell and ends with it" {
	run -0 sh -c 'mpsem acquire S -j 2 && mpsem value S'
	[ "$output" = 1 ]
	run -0 mpsem value S
	[ "$output" = 2 ]
}

@test "a slot taken with --ttl comes back when the time is up" {
	# long enough that the -n below comes first, even in a sanitized
	# build on a loaded machine
	mpsem acquire S --owner none --ttl 2s
	run -75 mpsem acquire -n S --owner none
	run -0 mpsem acquire -t 5 S --owner none
}

# ---- fairness ----

@test "waiters are served in arrival order" {
	local i=0 w
	mpsem acquire S --owner none
	for w in A B C D E; do
		start_bg mpsem run S -- sh -c 'echo $1 >>"$2"' _ "$w" "$T/order"
		i=$((i + 1))
		wait_until 5 waiters S "$i"
	done
	mpsem release S --owner none
	wait_until 5 nlines "$T/order" 5
	[ "$(tr -d '\n' <"$T/order")" = ABCDE ]
}

@test "a stopped earlier waiter loses its place to a late arrival, and queues again when it goes on" {
	local_store_only	# (on a Redis store a stopped waiter keeps its place)
	mpsem acquire S --owner none
	start_bg mpsem run S -- touch "$T/first"
	local first=$BG_PID
	wait_until 5 waiters S 1
	# Stopped, the first waiter would keep every later one waiting (issue
	# 22): it leaves the line.  (If it stopped holding the object's
	# internal mutex, for the few µs of a recheck, retry: mpsem value
	# would wait for it.)
	local i
	for i in 1 2 3 4 5; do
		kill -STOP "$first"
		wait_until 5 stopped "$first"
		timeout 2 mpsem value S >/dev/null && break
		kill -CONT "$first"
	done
	mpsem release S --owner none
	run -0 mpsem value S
	[ "$output" = 1 ]
	run -0 mpsem run -n S -- touch "$T/late"
	[ -e "$T/late" ]
	kill -CONT "$first"
	wait_until 5 test -e "$T/first"
}

# ---- interrupted waits ----

@test "SIGINT while waiting in run exits 130, runs nothing and takes no slot" {
	mpsem acquire S --owner none
	start_bg mpsem run S -- touch "$T/ran"
	local w=$BG_PID st=0
	wait_until 5 waiters S 1
	kill -INT "$w"
	wait "$w" || st=$?
	[ "$st" = 130 ]
	waiters S 0
	mpsem release S --owner none
	run -0 mpsem value S
	[ "$output" = 1 ]
	[ ! -e "$T/ran" ]
}

@test "SIGTERM while waiting in acquire exits 143 and takes no slot" {
	mpsem acquire S --owner none
	start_bg mpsem acquire S --owner none
	local w=$BG_PID st=0
	wait_until 5 waiters S 1
	kill -TERM "$w"
	wait "$w" || st=$?
	[ "$st" = 143 ]
	holders S 1
	waiters S 0
}

@test "SIGINT while run --bg waits exits 130, starts nothing and takes no slot" {
	mpsem acquire S --owner none
	start_bg mpsem run --bg S -- touch "$T/ran"
	local w=$BG_PID st=0
	wait_until 5 waiters S 1
	kill -INT "$w"
	wait "$w" || st=$?
	[ "$st" = 130 ]
	wait_until 5 waiters S 0
	mpsem release S --owner none
	run -0 mpsem value S
	[ "$output" = 1 ]
	[ ! -e "$T/ran" ]
}

@test "SIGKILL of run --bg while it waits starts nothing" {
	mpsem acquire S --owner none
	start_bg mpsem run --bg S -- touch "$T/ran"
	local w=$BG_PID
	wait_until 5 waiters S 1
	kill -KILL "$w"
	wait_until 5 waiters S 0
	mpsem release S --owner none
	run -0 mpsem acquire -t 5 S --owner none
	[ ! -e "$T/ran" ]
}

# ---- busy, timeout, -E ----

@test "-n exits 75, -t exits 124, -t 0 is -n and -E replaces both" {
	mpsem acquire S --owner none
	run -75 --separate-stderr mpsem run -v -n S true
	[[ $stderr == *busy* ]]
	run -124 --separate-stderr mpsem acquire -v -t 100ms S --owner none
	[[ $stderr == *"timed out"* ]]
	run -75 mpsem acquire -t 0 S --owner none
	run -3 mpsem run -n -E 3 S true
	run -4 mpsem acquire -w 50ms -E 4 S --owner none
	run -75 --separate-stderr mpsem -q run -n S true
	[ -z "$stderr" ]
}

# ---- size ----

@test "an existing semaphore used with another -j exits 65 naming both numbers" {
	mpsem create gpu -j 2
	run -65 --separate-stderr mpsem run gpu -j 3 true
	[[ $stderr == *"'gpu' has 2 slots, not 3"* ]]
	run -65 mpsem acquire gpu -j 1 --owner none
	run -65 mpsem create gpu -j 5
	run -0 mpsem create gpu -j 2
	# without -j, any size is accepted
	run -0 mpsem run gpu true
	run -0 mpsem value gpu
	[ "$output" = 2 ]
}

@test "-j sets the slot count at creation, and the default is 1" {
	mpsem acquire one --owner none
	run -0 mpsem value one
	[ "$output" = 0 ]
	mpsem create many -j 5
	run -0 mpsem value many
	[ "$output" = 5 ]
}

# ---- acquire / release ----

@test "one owner can hold several slots and releases them one at a time" {
	start_bg sleep 1000
	local o=$BG_PID
	mpsem acquire S -j 3 --owner "$o"
	mpsem acquire S --owner "$o"
	run -0 mpsem value S
	[ "$output" = 1 ]
	mpsem release S --owner "$o"
	run -0 mpsem value S
	[ "$output" = 2 ]
}

@test "release by a non-owner exits 1 unless --force, and of a free semaphore exits 1" {
	start_bg sleep 1000
	local o=$BG_PID
	mpsem acquire S --owner "$o"
	run -1 --separate-stderr mpsem release S --owner "$$"
	[[ $stderr == *"pid $$ holds no slot"* ]]
	holders S 1
	run -0 mpsem release S --owner "$$" --force
	holders S 0
	run -1 --separate-stderr mpsem release S --owner "$o"
	[[ $stderr == *"no slot is held"* ]]
}

# ---- info, ls, rm ----

@test "info shows the slots, each holder's pid, start time and age, and the waiters" {
	start_bg sleep 1000
	local o=$BG_PID
	mpsem acquire S -j 2 --owner "$o"
	mpsem acquire S --owner none
	start_bg mpsem acquire S --owner none
	wait_until 5 waiters S 1
	run -0 mpsem info S
	[[ $output == *"state:    2 of 2 slots taken"* ]]
	[[ $output == *"slots:    2 (0 free)"* ]]
	[[ $output == *"pid $o (started 20"*", held "* ]]
	[[ $output == *"no owner (until released)"* ]]
	[[ $output == *"waiters:  1"* ]]
}

@test "info --json is one JSON object with the holders and waiters" {
	command -v jq >/dev/null || skip "jq is not installed"
	start_bg sleep 1000
	local o=$BG_PID
	mpsem acquire S -j 3 --owner "$o"
	run -0 mpsem info --json S
	[ "$(jq -r '.kind, .slots, .free, .holders[0].owner_pid, .waiters' <<<"$output" |
		tr '\n' ' ')" = "sem 3 2 $o 0 " ]
	jq -e '.holders[0].owner_start and (.holders[0].held_ms >= 0)' <<<"$output"
}

@test "ls lists the semaphores of the store, and only those" {
	mpsem create b -j 2
	mpsem create a
	mplock create a-lock
	run -0 mpsem ls
	[ "${lines[0]%% *}" = NAME ]
	[ "${lines[1]%% *}" = a ]
	[ "${lines[2]%% *}" = b ]
	[ "${#lines[@]}" = 3 ]
	if command -v jq >/dev/null; then
		run -0 mpsem ls --json
		[ "$(jq -r '.[].name' <<<"$output" | tr '\n' ' ')" = "a b " ]
	fi
}

@test "rm removes the semaphore and its waiters exit 66" {
	mpsem acquire S --owner none
	start_bg mpsem run S -- touch "$T/ran"
	local w=$BG_PID st=0
	wait_until 5 waiters S 1
	mpsem rm S
	wait "$w" || st=$?
	[ "$st" = 66 ]
	[ ! -e "$T/ran" ]
	run -66 mpsem info S
}

@test "value, info, release and rm of a missing semaphore exit 66 and create nothing" {
	run -66 --separate-stderr mpsem value nope
	[[ $stderr == *"no semaphore named 'nope'"* ]]
	run -66 mpsem info nope
	run -66 mpsem release nope --owner none
	run -66 mpsem rm nope
	run -0 mpsem ls
	[ -z "$output" ]
}

# ---- usage and errors: every status of DESIGN §4 mpsem can produce ----

@test "usage errors exit 64" {
	run -64 mpsem
	run -64 mpsem frobnicate S
	run -64 --separate-stderr mpsem value 'bad/name'
	[[ $stderr == *"'/'"* ]]
	run -64 mpsem run S
	run -64 mpsem run S -c true -- true
	run -64 mpsem run S -j 0 true
	run -64 mpsem run S -j x true
	run -64 mpsem run S -j 65537 true
	run -64 mpsem acquire S --bg
	run -64 mpsem value S -j 2
	run -64 mpsem release S --ttl 1s
	run -64 mpsem acquire S --force
	run -64 mpsem acquire S --owner nobody
	run -64 --separate-stderr mpsem acquire S --ttl 0
	[[ $stderr == *"--ttl: must be more than 0"* ]]
	run -64 --separate-stderr mpsem acquire S --ttl soon
	[[ $stderr == *"--ttl: 'soon' is not a duration"* ]]
	run -64 mpsem acquire S -t soon
	run -64 mpsem ls extra
}

@test "a corrupt object or another kind's file exits 65" {
	local_store_only
	mpsem create S -j 3
	# the slot count (first word of the body) beyond the hold table
	printf '\005' | dd of="$MP_DIR/sem.S" bs=1 seek=256 conv=notrunc status=none
	run -65 --separate-stderr mpsem value S
	[[ $stderr == *corrupt* ]]
	mpsem create T
	truncate -s 300 "$MP_DIR/sem.T"
	run -65 mpsem run T true
	mplock create L
	cp "$MP_DIR/lock.L" "$MP_DIR/sem.L"
	run -65 --separate-stderr mpsem value L
	[[ $stderr == *"not a sem"* ]]
}

@test "a process stopped inside the object makes others wait for it; -n exits 75, naming it" {
	local_store_only
	mpsem create S
	start_bg t-sem stop-locked S
	local s=$BG_PID
	wait_until 5 stopped "$s"
	run -75 --separate-stderr mpsem value S -n
	[ -z "$stderr" ]	# busy is silent, as with flock -n
	run -75 --separate-stderr mpsem -v value S -n
	[[ $stderr == *"process $s is stopped inside it"* ]]
	# once the stopped holder is gone, the object works again
	kill -KILL "$s"
	run -0 mpsem value S
	[ "$output" = 1 ]
}

@test "a semaphore from an earlier boot (a disk store) has all its slots free again" {
	local_store_only
	mpsem acquire S -j 3 --owner none
	mpsem acquire S --owner none
	t-sem reboot S
	run -0 mpsem value S
	[ "$output" = 3 ]
	run -0 mpsem info --json S
	[[ $output == *'"generation":1'* ]]
}

@test "a system error exits 71 and names the reason" {
	local_store_only
	mpsem create S
	# fds 0-3: the store opens, the semaphore cannot (a dynamic binary's
	# loader needs fd 3 for a moment first, so 3 and 4 are closed)
	run -71 --separate-stderr bash -c 'ulimit -n 4; exec mpsem value S' 3>&- 4>&-
	[[ $stderr == *"Too many open files"* ]]
}

@test "a full store exits 73" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	SMALL=$T/small
	mkdir -p "$SMALL"
	mount -t tmpfs -o size=64k,mode=0700 tmpfs "$SMALL"
	run -73 mpsem --dir "$SMALL" create big -j 10000
	run -0 mpsem --dir "$SMALL" create small -j 2
}

@test "a failed write to stdout exits 74" {
	mpsem create S
	run -74 sh -c 'mpsem value S >/dev/full'
	run -74 sh -c 'mpsem info S >/dev/full'
}

@test "an object others may write is refused with 77" {
	local_store_only
	mpsem create S
	chmod 0666 "$MP_DIR/sem.S"
	run -77 --separate-stderr mpsem value S
	[[ $stderr == *"writable by others"* ]]
}

# ---- --posix ----

@test "--posix interoperates with a C program using sem_open on the same name" {
	local n="mpsem-bats-$$" st=0
	# t-posix-sem is built by the system compiler with glibc and no libmp:
	# a C program written without mptools.  glibc names /NAME's file
	# /dev/shm/sem.NAME.
	t-posix-sem create "$n" 1
	[ -f "/dev/shm/sem.$n" ]
	run -0 mpsem --posix value "$n"
	[ "$output" = 1 ]
	mpsem --posix acquire "$n"
	run -0 t-posix-sem value "$n"
	[ "$output" = 0 ]
	run -3 t-posix-sem trywait "$n"
	# a C program blocked in sem_wait is woken by mpsem --posix release
	start_bg t-posix-sem wait "$n"
	local c=$BG_PID
	mpsem --posix release "$n"
	wait "$c" || st=$?
	[ "$st" = 0 ]
	# mpsem --posix acquire blocked is woken by the C program's sem_post
	start_bg mpsem --posix acquire "$n"
	local m=$BG_PID
	t-posix-sem post "$n"
	st=0
	wait "$m" || st=$?
	[ "$st" = 0 ]
	run -0 mpsem --posix value "$n"
	[ "$output" = 0 ]
	mpsem --posix rm "$n"
	run -2 t-posix-sem value "$n"
}

# pysem OP NAME [N]: Python calling glibc's sem_open through ctypes
pysem() {
	python3 "$BATS_TEST_DIRNAME/helpers/posix-sem.py" "$@"
}

@test "--posix interoperates with Python calling glibc's sem_open through ctypes" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	local n="mpsem-bats-$$" st=0 p m
	# Python creates /NAME and posts it: mpsem --posix sees it
	run -0 pysem create "$n" 0
	[ -f "/dev/shm/sem.$n" ]
	run -0 mpsem --posix value "$n"
	[ "$output" = 0 ]
	pysem post "$n"
	pysem post "$n"
	run -0 mpsem --posix value "$n"
	[ "$output" = 2 ]
	# mpsem --posix acquire and release: Python sees them
	mpsem --posix acquire "$n"
	run -0 pysem value "$n"
	[ "$output" = 1 ]
	mpsem --posix acquire "$n"
	run -0 pysem value "$n"
	[ "$output" = 0 ]
	run -3 pysem trywait "$n"
	mpsem --posix release "$n"
	run -0 pysem value "$n"
	[ "$output" = 1 ]
	run -0 pysem trywait "$n"
	# Python blocked in sem_wait is woken by mpsem --posix release
	# (python3 itself, not the function, so that $BG_PID is the waiter)
	start_bg python3 "$BATS_TEST_DIRNAME/helpers/posix-sem.py" wait "$n" 60000 >"$T/py.out"
	p=$BG_PID
	wait_until 10 file_has "$T/py.out" waiting
	wait_until 10 in_futex "$p"
	mpsem --posix release "$n"
	wait "$p" || st=$?
	[ "$st" = 0 ]
	# mpsem --posix acquire blocked is woken by Python's sem_post
	start_bg mpsem --posix acquire "$n"
	m=$BG_PID
	wait_until 10 in_futex "$m"
	pysem post "$n"
	st=0
	wait "$m" || st=$?
	[ "$st" = 0 ]
	run -0 pysem value "$n"
	[ "$output" = 0 ]
	# mpsem --posix rm is sem_unlink
	mpsem --posix rm "$n"
	[ ! -e "/dev/shm/sem.$n" ]
	run -2 pysem value "$n"
}

@test "--posix create -j sets the initial value; busy, timeout and missing exit 75, 124, 66" {
	local n="mpsem-bats-$$"
	run -66 mpsem --posix value "$n"
	run -66 mpsem --posix release "$n"
	run -66 mpsem --posix rm "$n"
	mpsem --posix create "$n" -j 2
	run -0 t-posix-sem value "$n"
	[ "$output" = 2 ]
	mpsem --posix acquire "$n"
	mpsem --posix acquire "$n"
	run -75 mpsem --posix acquire -n "$n"
	run -124 mpsem --posix acquire -t 100ms "$n"
	mpsem --posix rm "$n"
}

@test "--posix has no owners: a unit taken by a process that died stays taken" {
	local n="mpsem-bats-$$"
	mpsem --posix create "$n" -j 1
	sh -c 'mpsem --posix acquire "$1"' _ "$n"
	run -0 mpsem --posix value "$n"
	[ "$output" = 0 ]
	run -75 mpsem --posix acquire -n "$n"
	mpsem --posix rm "$n"
}

@test "SIGINT while --posix acquire waits exits 130 and takes nothing" {
	local n="mpsem-bats-$$" st=0
	mpsem --posix create "$n" -j 1
	mpsem --posix acquire "$n"
	start_bg mpsem --posix acquire "$n"
	local w=$BG_PID
	wait_until 5 in_futex "$w"
	kill -INT "$w"
	wait "$w" || st=$?
	[ "$st" = 130 ]
	mpsem --posix release "$n"
	run -0 mpsem --posix value "$n"
	[ "$output" = 1 ]
}

@test "--posix refuses verbs and options that need owners" {
	run -64 mpsem --posix run S true
	run -64 mpsem --posix info S
	run -64 mpsem --posix drain S
	run -64 mpsem --posix acquire S --owner none
	run -64 mpsem --posix release S --force
}

# ---- create --value: a semaphore that starts with fewer free slots ----

@test "create -j 3 --value 0 starts with no free slot; release --owner none posts one, never past 3" {
	mpsem create S -j 3 --value 0
	run -0 mpsem value S
	[ "$output" = 0 ]
	run -75 mpsem acquire -n S --owner none
	run -0 mpsem release S --owner none
	run -0 mpsem value S
	[ "$output" = 1 ]
	mpsem release S --owner none
	mpsem release S --owner none
	run -0 mpsem value S
	[ "$output" = 3 ]
	# every slot is free: a fourth post is refused and changes nothing
	run -1 mpsem release S --owner none
	run -0 mpsem value S
	[ "$output" = 3 ]
}

@test "a semaphore made with --value 0 is a signal: a waiting acquire goes when another process releases" {
	mpsem create sig --value 0
	start_bg mpsem acquire sig --owner none -t 20
	local w=$BG_PID
	wait_until 5 bash -c 'mpsem info sig | grep -q "waiters:  1"'
	alive "$w"
	mpsem release sig --owner none
	wait_until 5 dead "$w"
	wait "$w"
	run -0 mpsem value sig
	[ "$output" = 0 ]
}

@test "create --value V keeps V free and holds the rest with no owner, as info shows" {
	mpsem create S -j 4 --value 1
	run -0 mpsem value S
	[ "$output" = 1 ]
	run -0 mpsem info S --json
	[[ $output == *'"free":1,'* ]]
	[ "$(grep -o '"owner_pid":0,' <<<"$output" | wc -l)" = 3 ]
	# the held slots have no owner: no reaping gives them back
	run -0 mpsem acquire -n S --owner none
	run -75 mpsem acquire -n S --owner none
}

@test "--value is for create, at most -j, and applies only when create makes the semaphore" {
	run -64 mpsem acquire S --value 1
	run -64 mpsem create S -j 2 --value 3
	run -64 mpsem create S --value 2
	run -64 mpsem create S --value x
	mpsem create S -j 2
	run -0 mpsem create S -j 2 --value 0
	run -0 mpsem value S
	[ "$output" = 2 ]
}

# ---- the example ----

@test "the KTV example: 10 people, never more than 3 in the room, everybody sings" {
	run -0 env KTV_SONG=0.1 sh "$MP_TOP_SRCDIR/examples/ktv.sh"
	[ "$(grep -c ' enters' <<<"$output")" = 10 ]
	[ "$(grep -c ' leaves' <<<"$output")" = 10 ]
	# each line is printed while its seat is held: at no point of the
	# output are more than 3 people between "enters" and "leaves"
	awk '/ enters/ { n++; if (n > 3) bad = 1 } / leaves/ { n-- } END { exit bad }' \
		<<<"$output"
	! grep -E 'seat [^0-2]' <<<"$output"
}

@test "run --ttl ends a command that outlasts it, exits 124 and frees its slot" {
	run -124 --separate-stderr mpsem run --ttl 0.3 ttl -j 1 -- sleep 100
	[[ $stderr == *"--ttl ran out"* ]]
	run -0 mpsem value ttl
	[ "$output" = 1 ]
	run -0 mpsem run --ttl 10 ttl -- true
}

@test "run --bg --ttl: the background command is ended when the time is up and its slot comes back" {
	pid=$(mpsem -v run --bg --ttl 0.3 bgttl -j 1 -- sleep 1000 2>/dev/null)
	[ -n "$pid" ]
	wait_until 15 dead "$pid"
	wait_until 15 sh -c '[ "$(mpsem value bgttl)" = 1 ]'
}
