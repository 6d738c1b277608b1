#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The short kill -9 torture (make torture runs the long one): for a few
# seconds per kind, clients run the real tools while random clients and
# tools are SIGKILLed (and, in a build configured with
# --enable-fault-injection, tools kill themselves inside the library's
# critical sections); then every client is killed and the kind's
# invariants are checked.  See tests/torture/mptorture.c.
load helpers/common

TORTURE="$MP_TOP_BUILDDIR/tests/torture/mptorture"
SECONDS_PER_KIND=4
# the work each kind must do, however long the machine takes to do it
# (mptorture goes on past -t until it is done)
MIN_WORK=(--min-ops 20 --min-kills 5)

fault_build() {
	grep -q '^#define MP_FAULT_INJECTION 1' "$MP_TOP_BUILDDIR/config.h"
}

# column KIND N: field N of KIND's row in the last run's table
# (kind clients ops kills faults checks violations)
column() {
	awk -v k="$1" -v n="$2" '$1 == k && NF == 7 { print $n }' <<<"$output"
}

# torture KIND [OPTION...]: a short run of one kind that must end without
# violation, having done real work: operations, SIGKILLs and checks.
torture() {
	rm -rf "$BATS_TEST_TMPDIR/t"
	run -0 "$TORTURE" -t "$SECONDS_PER_KIND" "${MIN_WORK[@]}" -k "$@" --dir "$BATS_TEST_TMPDIR/t"
	echo "$output"
	[ "$(column "$1" 7)" = 0 ]
	[ "$(column "$1" 2)" -ge 5 ]	# clients run
	[ "$(column "$1" 3)" -ge 20 ]	# operations
	[ "$(column "$1" 4)" -ge 5 ]	# kills
	[ "$(column "$1" 6)" -ge 2 ]	# kill-everything-and-check rounds
	[[ "$output" == *", violations 0"* ]]
}

@test "a lock never has two holders and is free within 1 s of its last holder's SIGKILL" {
	torture lock
}

@test "a reader/writer lock never lets a writer in with readers under kill -9" {
	torture rwlock
}

@test "a semaphore never admits more holders than slots and loses no slot under kill -9" {
	torture sem
}

@test "locks and semaphores run from sibling pid namespaces keep their invariants under kill -9" {
	# --ns: every run is a container of its own; holders there are kept
	# by their leases, and each SIGKILL ends a whole namespace
	[ "$(id -u)" = 0 ] || skip "needs root for unshare"
	unshare -pf --mount-proc true 2>/dev/null || skip "no pid namespaces here"
	torture lock --ns
	[[ $output == *"run in pid namespaces"* ]]
	torture rwlock --ns
	torture sem --ns
}

# users_torture OPTION...: a short run of lock, rwlock, sem and queue whose
# clients run as two users, uids 64001 and 64002 in gid 64000 (numbers: no
# accounts are needed), sharing a proper group store (2770); from a copy
# of the binaries and a work directory both users can reach.
users_torture() {
	local k
	[ "$(id -u)" = 0 ] || skip "needs root to run the clients as two users"
	tools_for_uid 64001
	cp "$TORTURE" "$OTHER_BIN/"
	run "$OTHER_BIN/mptorture" -t "$SECONDS_PER_KIND" "${MIN_WORK[@]}" -k lock,rwlock,sem,queue \
		--bin "$OTHER_BIN" --dir "$OTHER_BIN/t" --users 64001,64002:64000 "$@"
	echo "$output"
	if [[ $output == *"cannot mount a hidepid=2 /proc"* ]]; then
		skip "cannot mount a hidepid /proc here"
	fi
	[ "$status" = 0 ]
	[[ $output == *"(users 64001 and 64002, group store of gid 64000"* ]]
	for k in lock rwlock sem queue; do
		[ "$(column $k 7)" = 0 ]
		[ "$(column $k 3)" -ge 20 ]
		[ "$(column $k 4)" -ge 5 ]
	done
	[[ "$output" == *", violations 0"* ]]
}

@test "two users sharing a group store keep every invariant under kill -9" {
	users_torture
}

@test "with /proc hidepid=2, holders of the other user are never judged dead under kill -9" {
	# each user's tools see only that user's processes; a holder they
	# cannot see must still count as alive
	users_torture --hidepid
	[[ $output == *"/proc hidepid=2)"* ]]
}

@test "hidepid=2 and random SIGSTOP/SIGCONT together break no invariant" {
	users_torture --hidepid --stop-every 20
	[[ "$output" =~ stops\ \(SIGSTOP,\ then\ SIGCONT\)\ [1-9][0-9]* ]]
}

@test "no worker outlives a SIGKILLed mpspawn by more than a second" {
	torture spawn
}

@test "a queue under kill -9 loses, duplicates and corrupts no message, and size matches" {
	torture queue
	[[ "$output" == *"queue: "*" messages put with exit 0"* ]]
}

@test "no event waiter sleeps through a set while clients are SIGKILLed" {
	torture event
	[[ "$output" =~ event:\ [1-9][0-9]*\ sets ]]
}

@test "random SIGSTOP/SIGCONT of waiters and streaming puts and gets breaks no invariant" {
	run -0 "$TORTURE" -t "$SECONDS_PER_KIND" --min-ops 20 -k lock,sem,queue --stop-every 20 \
		--dir "$BATS_TEST_TMPDIR/t"
	echo "$output"
	local k
	for k in lock sem queue; do
		[ "$(column "$k" 7)" = 0 ]
		[ "$(column "$k" 3)" -ge 20 ]
	done
	[[ "$output" =~ stops\ \(SIGSTOP,\ then\ SIGCONT\)\ [1-9][0-9]* ]]
	[[ "$output" == *", violations 0"* ]]
}

@test "a variable is never torn and its counter loses and doubles no incr under kill -9" {
	torture var
	[[ "$output" =~ var:\ [1-9][0-9]*\ gets\ of\ whole\ values ]]
}

@test "the checkers report violations when every kind is sabotaged on purpose" {
	# Longer than the others: an event is caught only after a waiter slept
	# through a sabotaged set for 1.5 s, and a sanitized build runs few
	# clients at once, on a machine that may be loaded.
	run -1 "$TORTURE" -t 12 --sabotage --dir "$BATS_TEST_TMPDIR/t"
	echo "$output"
	for k in lock rwlock sem queue event spawn var; do
		[ "$(column $k 7)" -gt 0 ]
	done
}

@test "an acquire whose caller died before it started does not give the lock to the adopter" {
	# The subshell outlives the shell that started it: when it execs
	# mplock, mplock's parent is whoever adopted it, not its caller.
	mplock create L
	bash -c '(sleep 0.3; exec mplock acquire L 2>"$1") & exit 0' sh "$BATS_TEST_TMPDIR/err"
	wait_until 5 file_has "$BATS_TEST_TMPDIR/err" "calling process has exited"
	run -1 mplock is-locked L
}

@test "a normal build has no fault points, a fault build has them" {
	if fault_build; then
		grep -aq 'gate.take.published' "$MP_TOP_BUILDDIR/src/mplock"
	else
		! grep -aq 'gate.take.published' "$MP_TOP_BUILDDIR/src/mplock"
	fi
}

@test "fault build: a process killed holding an object's mutex leaves the lock usable" {
	fault_build || skip "not configured with --enable-fault-injection"
	run -137 env MP_FAULT=sync.locked mplock acquire L
	run -0 mplock run -t 1 L true
	run -1 mplock is-locked L
}

@test "fault build: a hold published by a process killed before it exited is taken back" {
	fault_build || skip "not configured with --enable-fault-injection"
	run -137 env MP_FAULT=gate.take.published mplock run L true
	run -0 mplock run -t 1 L true
	run -137 env MP_FAULT=mplock.acquired mplock acquire L --owner $BASHPID
	run -0 mplock is-locked L
	run -0 mplock release L --owner $BASHPID
}

@test "fault build: MP_FAULT picks points by name, prefix and probability" {
	fault_build || skip "not configured with --enable-fault-injection"
	run -0 env MP_FAULT='gate.take.published:0' mplock run L true
	run -0 env MP_FAULT='store.*' mplock run L true		# L exists: no create
	run -137 env MP_FAULT='nothing,gate.*' MP_FAULT_LOG="$BATS_TEST_TMPDIR/log" mplock run L true
	grep -q "^gate\.[a-z_.]* [0-9]*$" "$BATS_TEST_TMPDIR/log"
}

@test "fault build: a queue commit cut short is rolled forward or invisible, never half-made" {
	fault_build || skip "not configured with --enable-fault-injection"
	run -137 env MP_FAULT=queue.commit.valid mpqueue put q first
	run -0 mpqueue size q
	[ "$output" = 1 ]
	run -137 env MP_FAULT=queue.commit.written mpqueue put q lost
	run -0 mpqueue size q
	[ "$output" = 1 ]
	# written to stdout, killed before the ack: it is delivered again
	run -137 env MP_FAULT=mpqueue.get.written mpqueue get q
	[ "$output" = first ]
	run -0 mpqueue get -n q
	[ "$output" = first ]
	run -75 mpqueue get -n q
}

@test "fault build: a variable's change killed at any step leaves the old value or the new one, whole" {
	fault_build || skip "not configured with --enable-fault-injection"
	mpvar set v old
	# the new value copied beside the old one, not yet published: old
	run -137 env MP_FAULT=var.replace.copied mpvar set v new
	run -0 mpvar get v
	[ "$output" = old ]
	# published in the journal, or halfway applied: the next process
	# finishes it
	run -137 env MP_FAULT=var.commit.journal mpvar set v new
	run -0 mpvar get v
	[ "$output" = new ]
	run -137 env MP_FAULT=var.apply mpvar set v "a longer value"
	run -0 mpvar get v
	[ "$output" = "a longer value" ]
	mpvar set n 41
	run -137 env MP_FAULT=var.apply mpvar incr n
	run -0 mpvar incr n
	[ "$output" = 43 ]
	run -137 env MP_FAULT=mpvar.changed mpvar incr n
	run -0 mpvar get n
	[ "$output" = 44 ]
	run -0 mpvar info v --json
	[[ $output == *'"version":3,'* ]]
	# a waiter killed in its sleep leaves the others working
	run -137 env MP_FAULT=var.wait.sleep mpvar wait n --ge 100
	run -0 mpvar wait -t 1 n --ge 44
}

@test "fault build: a set killed after its journal is finished by the next process" {
	fault_build || skip "not configured with --enable-fault-injection"
	run -137 env MP_FAULT=event.change.journal mpevent set e
	run -0 mpevent is-set e
	run -0 mpevent wait -t 1 e
}

@test "fault build: an rm killed between marking and unlinking leaves the name usable" {
	fault_build || skip "not configured with --enable-fault-injection"
	mplock create L
	run -137 env MP_FAULT=store.remove.marked mplock rm L
	run -0 mplock run -t 1 L true
	mpqueue put q old
	run -137 env MP_FAULT=store.remove.marked mpqueue rm q
	run -0 mpqueue put q new
	run -0 mpqueue get -n q
	[ "$output" = new ]
}

@test "fault build: a fault point ends the init of a pid namespace too, which ignores its own SIGKILL" {
	fault_build || skip "not configured with --enable-fault-injection"
	[ "$(id -u)" = 0 ] || skip "needs root for unshare"
	unshare -pf --mount-proc true 2>/dev/null || skip "no pid namespaces here"
	# mplock is pid 1 of the namespace, as in mptorture --ns; before the
	# fix it stayed paused there, holding the object's mutex (unshare
	# ignores SIGTERM: timeout ends it with SIGUSR1 and exits 124)
	run -137 timeout -s USR1 20 unshare -pf --mount-proc --kill-child \
		env MP_FAULT=sync.locked mplock run L true
	run -0 mplock -t 5 run L true
}
