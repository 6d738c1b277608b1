#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Owners in other pid and time namespaces, hidepid /proc (issue 22): who
# can judge an owner from /proc judges it; who cannot relies on a lease
# that the holding side renews, and "cannot see" never means "dead".
# Root only: unshare(1) needs it.
load helpers/common

setup() {
	mp_common_setup
	local_store_only
	[ "$(id -u)" = 0 ] || skip "needs root for unshare"
	unshare -pf --mount-proc true 2>/dev/null || skip "no pid namespaces here"
	# a store on disk that every namespace here shares (mount namespaces
	# of unshare --mount-proc see the same /tmp)
	export MP_DIR="$BATS_TEST_TMPDIR/store"
}

# host_pid_of PATTERN: the pid (in this namespace) of the newest process
# whose command line matches PATTERN.
host_pid_of() {
	pgrep -n -f -- "$1"
}

# in_ns CMD...: runs CMD as pid 1's child of a new pid namespace with its
# own /proc (a container's view).
in_ns() {
	# exec: start_bg's pid is unshare's; --kill-child: killing it (the
	# teardown) ends the namespace
	exec unshare -pf --mount-proc --kill-child "$@"
}

locked_in() {
	mplock is-locked "$1"
}

# back_offset: sets BACK, a negative monotonic offset for unshare -T that
# this machine's clock can take, and TTL, a --ttl shorter than it: the
# kernel refuses an offset that would make the namespace's clock negative
# (ERANGE), so on a machine booted less than 20000 s ago BACK is half the
# time since boot.  A TTL counted on the namespace's clock would look run
# out from outside by BACK, longer than TTL.
back_offset() {
	local up
	up=$(cut -d. -f1 /proc/uptime)
	[ "$up" -ge 40 ] || skip "booted ${up}s ago: too recently to move a clock back"
	BACK=$((up / 2))
	[ "$BACK" -le 10000 ] || BACK=10000
	TTL=$((BACK / 2))s
	BACK=-$BACK
}

@test "a holder in a child pid namespace SIGKILLed: a waiter in the parent gets the lock at once" {
	# the namespace lives on (its init is a shell): only the holder dies
	start_bg in_ns sh -c 'mplock run nskill -- sleep 1000 & wait'
	wait_until 10 locked_in nskill
	holder=$(host_pid_of 'mplock run nskill')
	[ -n "$holder" ]
	kill -KILL "$holder"
	# not -t 1: a noisy machine; the old code waited for ever (124)
	run -0 mplock -t 5 acquire nskill --owner none
}

@test "a whole child pid namespace gone: a waiter in the parent gets the lock" {
	start_bg in_ns mplock run nsgone -- sleep 1000
	wait_until 10 locked_in nsgone
	kill -KILL "$(host_pid_of 'mplock run nsgone')"
	run -0 mplock -t 5 acquire nsgone --owner none
}

@test "a live holder in a sibling pid namespace is never taken from (200 rounds, lease 1s)" {
	start_bg in_ns mplock --lease 1 run sib -- sleep 1000
	wait_until 10 locked_in sib
	# the other sibling cannot see the holder: only the lease speaks for it
	run -0 in_ns sh -c 'i=0; while [ $i -lt 200 ]; do
		mplock -n acquire sib --owner none 2>/dev/null; rc=$?
		[ $rc = 75 ] || { echo "round $i: status $rc"; exit 1; }
		i=$((i + 1)); sleep 0.01; done; echo ok'
	[ "$output" = ok ]
}

@test "a holder in a sibling pid namespace SIGKILLed: the other sibling gets it after the lease, not before" {
	# the waiting container exists first (see the waiter test below)
	go=$BATS_TEST_TMPDIR/go res=$BATS_TEST_TMPDIR/res
	start_bg in_ns sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done
		mplock -t 20 acquire sibk --owner none; echo "status $? $(date +%s%N)" >"$2"' sh "$go" "$res"
	start_bg in_ns mplock --lease 3 run sibk -- sleep 1000
	wait_until 10 locked_in sibk
	before=$(date +%s%N)
	kill -KILL "$(host_pid_of 'mplock --lease 3 run sibk')"
	touch "$go"
	# the waiter cannot see the holder: it waits for the lease (renewed
	# every second, so at least 2 s of it were left)
	wait_until 30 file_has "$res" status
	read -r _ rc after <"$res"
	echo "status $rc after $(((after - before) / 1000000)) ms"
	[ "$rc" = 0 ]
	(((after - before) / 1000000 >= 1900))
}

@test "acquire in a pid namespace starts a keeper that renews the lease while the owner lives" {
	start_bg in_ns sh -c 'mplock --lease 1 acquire kept && echo acquired >"$1" && exec sleep 1000' sh \
		"$BATS_TEST_TMPDIR/acq"
	wait_until 10 file_has "$BATS_TEST_TMPDIR/acq" acquired
	# several leases later a sibling still finds it held
	run -0 in_ns sh -c 'i=0; while [ $i -lt 30 ]; do
		mplock -n acquire kept --owner none 2>/dev/null; rc=$?
		[ $rc = 75 ] || { echo "round $i: status $rc"; exit 1; }
		i=$((i + 1)); sleep 0.1; done; echo ok'
	[ "$output" = ok ]
	# the owner dies: the keeper releases at once (no lease to wait out)
	# the namespace's pid 1, the owner: the child of its unshare
	kill -KILL "$(pgrep -P "$(host_pid_of 'unshare -pf --mount-proc --kill-child sh -c mplock --lease 1 acquire kept')")"
	run -0 in_ns mplock -t 20 acquire kept --owner none
}

@test "a semaphore slot held in a sibling pid namespace is kept by its lease" {
	start_bg in_ns mpsem --lease 1 run slot -j 1 -- sleep 1000
	wait_until 10 sh -c '[ "$(mpsem value slot)" = 0 ]'
	run -75 in_ns sh -c 'sleep 2.5; mpsem -n acquire slot --owner none'
}

@test "in a pid namespace whose /proc is another namespace's, run says what to mount" {
	run -71 --separate-stderr unshare -pf mplock run noproc -- true
	[[ $stderr == *"mount -t proc"* ]]
	[[ $stderr == *"--mount-proc"* ]]
	run -71 --separate-stderr unshare -pf mpspawn -- true
	[[ $stderr == *"--mount-proc"* ]]
}

@test "a holder in a time namespace with other clock offsets is judged alive" {
	unshare -T true 2>/dev/null || skip "no time namespaces here"
	start_bg unshare -T --boottime 100000 --monotonic 100000 mplock run tns -- sleep 1000
	wait_until 10 locked_in tns
	run -75 mplock -n acquire tns --owner none
	kill -KILL "$(host_pid_of 'mplock run tns')"
	run -0 mplock -t 5 acquire tns --owner none
}

@test "a --ttl taken in a time namespace ends when it should, seen from outside" {
	unshare -T true 2>/dev/null || skip "no time namespaces here"
	back_offset
	unshare -T --monotonic "$BACK" mplock acquire ttlns --owner none --ttl "$TTL"
	# from here its TTL must not look long over (nor 100000 s longer)
	run -75 mplock -n acquire ttlns --owner none
	unshare -T --monotonic 100000 mplock acquire ttlns2 --owner none --ttl 1h
	run -75 mplock -n acquire ttlns2 --owner none
}

# with_hidepid NAME KILL TOOL ARGS...: in a mount namespace with a private
# /proc mounted hidepid=2, root holds lock NAME of a group store (mplock
# run); KILL=1 SIGKILLs the holder first; then uid 65534, in the store's
# group, runs TOOL ARGS... and the output ends "status N", its status.  The
# other user sees none of root's processes there.
with_hidepid() {
	local store
	tools_for_uid 65534
	store=$(mktemp -d /tmp/mp-hidepid.XXXXXX)
	chgrp 0 "$store"
	chmod 2770 "$store"
	run unshare -m sh -c '
		mount -t proc -o hidepid=2 proc /proc || exit 99
		export MP_DIR=$1; bin=$2; name=$3; kill=$4; tool=$5; shift 5
		"$bin/mplock" run "$name" -- sleep 1000 & h=$!
		i=0; until "$bin/mplock" is-locked "$name"; do
			i=$((i + 1)); [ $i -lt 500 ] || exit 98; sleep 0.02; done
		[ "$kill" = 0 ] || kill -KILL $h
		setpriv --reuid 65534 --regid 65534 --groups 0 env MP_DIR="$MP_DIR" "$bin/$tool" "$@"
		echo "status $?"
		kill $h 2>/dev/null; true' sh "$store" "$OTHER_BIN" "$@"
	rm -rf "$store"
	[ "$status" != 99 ] || skip "cannot mount a hidepid /proc here"
	[ "$status" = 0 ]
}

@test "hidepid=2: another user's live holder is not judged dead" {
	with_hidepid hp 0 mplock -n acquire hp --owner none
	[[ $output == *"status 75" ]]
}

@test "hidepid=2: a dead holder of another user is still released" {
	with_hidepid hpd 1 mplock -t 5 acquire hpd --owner none
	[[ $output == *"status 0" ]]
}

@test "hidepid=2: a caller the tool cannot see is not taken for dead: 77, nothing done" {
	local store
	tools_for_uid 65534
	store=$(mktemp -d /tmp/mp-hidepid.XXXXXX)
	chown 65534:65534 "$store"
	# root's shell runs the tool as uid 65534, which cannot see root's
	# processes: its caller is hidden, not gone
	run unshare -m sh -c '
		mount -t proc -o hidepid=2 proc /proc || exit 99
		MP_DIR=$1/s setpriv --reuid 65534 --regid 65534 --clear-groups "$2/mplock" acquire L
		echo "status $?"
		MP_DIR=$1/s setpriv --reuid 65534 --regid 65534 --clear-groups "$2/mplock" is-locked L
		echo "locked $?"' sh "$store" "$OTHER_BIN"
	rm -rf "$store"
	[ "$status" != 99 ] || skip "cannot mount a hidepid /proc here"
	echo "$output"
	[[ $output == *"cannot see the calling process"*"--owner"* ]]
	[[ $output == *"status 77"* ]]
	# nothing done: no lock was made
	[[ $output == *"locked 66"* ]]
}

@test "a waiter in a sibling pid namespace SIGKILLed does not block the queue after its lease" {
	mplock acquire q --owner none
	# the other container exists first: a namespace's inode number is
	# reused once it is gone, which would make the dead waiter look local
	go=$BATS_TEST_TMPDIR/go res=$BATS_TEST_TMPDIR/res
	start_bg in_ns sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done
		mplock release q --owner none && mplock -t 20 acquire q --owner none
		echo "status $?" >"$2"' sh "$go" "$res"
	start_bg in_ns mplock --lease 1 acquire q --owner none
	wait_until 10 sh -c 'mplock info q --json | grep -q "\"waiters\":1"'
	kill -KILL "$(host_pid_of 'mplock --lease 1 acquire q')"
	# from here only the other container looks (the host would see the
	# dead waiter): it cannot see it, but its lease, renewed while it
	# waited, runs out
	touch "$go"
	wait_until 30 file_has "$res" status
	run cat "$res"
	[ "$output" = "status 0" ]
}

@test "an owner in a pid namespace nested below the recorder's is found, not taken for dead" {
	# in a container, --owner names a process of a container inside it
	start_bg in_ns sh -c 'unshare -pf --kill-child sleep 1000 & i=0
		until p=$(pgrep -x sleep); do i=$((i + 1)); [ $i -lt 500 ] || exit 1; sleep 0.02; done
		mplock acquire nest --owner "$p" && echo held >"$1"; wait' sh "$BATS_TEST_TMPDIR/held"
	wait_until 10 file_has "$BATS_TEST_TMPDIR/held" held
	run -75 mplock -n acquire nest --owner none
	# the nested namespace ends: the owner is dead, seen from here
	kill -KILL "$(host_pid_of 'unshare -pf --kill-child sleep 1000')"
	run -0 mplock -t 5 acquire nest --owner none
}

@test "a hold granted after a wait longer than its lease starts with a whole lease" {
	mplock acquire long --owner none
	start_bg in_ns mplock --lease 1 run long -- sleep 1000
	wait_until 10 sh -c 'mplock info long --json | grep -q "\"waiters\":1"'
	sleep 1.5	# longer than the lease: the case itself, not a wait for a state
	# the other container releases, and at once tries to take it: the
	# holder in the first must have it, with a fresh lease
	run -0 in_ns sh -c 'mplock release long --owner none
		i=0; until mplock is-locked long; do i=$((i + 1)); [ $i -lt 500 ] || exit 9; sleep 0.01; done
		mplock -n acquire long --owner none; echo "status $?"'
	[[ $output == *"status 75" ]]
}

@test "a queue message leased with --ttl in a time namespace is not delivered again early" {
	unshare -T true 2>/dev/null || skip "no time namespaces here"
	mpqueue put q one
	back_offset
	run -0 unshare -T --monotonic "$BACK" mpqueue get q --lease --ttl "$TTL" --owner none
	[ "$output" = one ]
	# its TTL, seen from here, has not run out: the queue is empty
	run -75 mpqueue get -n q
}

@test "a message leased in a child pid namespace that is gone is delivered again in the parent" {
	mpqueue put q m1
	got=$BATS_TEST_TMPDIR/got
	# the getter's owner is the container's init, which lives on as sleep
	start_bg in_ns sh -c 'mpqueue get q --lease >"$1" && exec sleep 1000' sh "$got"
	wait_until 10 file_has "$got" m1
	# while the container lives its message stays leased
	run -75 mpqueue get -n q
	# the whole container ends (unshare --kill-child takes its init along)
	kill -KILL "$BG_PID"
	run -0 mpqueue get -t 5 q
	[ "$output" = m1 ]
}
