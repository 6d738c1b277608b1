#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mpspawn --queue Q --keep-order: each message's output in the order the
# messages were taken, whatever the order the workers finish in; a worker
# that dies mid-message does not wedge it; held output past the memory
# bound spills to a temporary file and nothing is lost.
load helpers/common

setup() {
	mp_common_setup
	T=$BATS_TEST_TMPDIR
	export T
}

@test "--keep-order: a pool of 4 with random sleeps prints 1..200 in order" {
	seq 200 | mpqueue put jobs
	mpqueue close jobs
	run -0 --separate-stderr mpspawn -j 4 --queue jobs --keep-order \
		-c 'sleep "0.0$((RANDOM % 4))"; echo "$1"; echo "$1 again"'
	[ "$output" = "$(seq 200 | sed 's/.*/&\n& again/')" ]
}

@test "without --keep-order the output comes as the workers finish; with it, in the order taken" {
	# message 1 waits until message 2 has printed
	mpqueue put q1 1 2
	mpqueue close q1
	run -0 mpspawn -j 2 --queue q1 -c '
		if [ "$1" = 1 ]; then while [ ! -e "$T/two" ]; do sleep 0.02; done; fi
		echo "$1"; [ "$1" = 2 ] && touch "$T/two"; :'
	[ "$output" = $'2\n1' ]
	rm "$T/two"
	mpqueue put q2 1 2
	mpqueue close q2
	run -0 mpspawn -j 2 --queue q2 --keep-order -c '
		if [ "$1" = 1 ]; then while [ ! -e "$T/two" ]; do sleep 0.02; done; fi
		echo "$1"; [ "$1" = 2 ] && touch "$T/two"; :'
	[ "$output" = $'1\n2' ]
}

@test "--keep-order: a worker that dies mid-message does not wedge the order; its message is retried and its output restarts" {
	seq 60 | mpqueue put jobs
	mpqueue close jobs
	# the worker running message 7 is SIGKILLed after its first line
	run -137 --separate-stderr timeout 120 mpspawn -j 4 --queue jobs --keep-order -c '
		echo "start $1"
		if [ "$1" = 7 ] && mkdir "$T/killed" 2>/dev/null; then
			kill -KILL $PPID; sleep 300
		fi
		sleep "0.0$((RANDOM % 3))"; echo "end $1"'
	[ -d "$T/killed" ]
	# message 7's first try printed "start 7" only: that is dropped
	[ "$output" = "$(seq 60 | sed 's/.*/start &\nend &/')" ]
}

@test "--keep-order: held output past MP_KEEP_ORDER_MEMORY spills to a temporary file, and nothing is lost" {
	mkdir "$T/tmp"
	seq 12 | mpqueue put jobs
	mpqueue close jobs
	# message 1 waits until the others' output is in the spill file
	MP_KEEP_ORDER_MEMORY=4K TMPDIR=$T/tmp start_bg mpspawn -j 3 --queue jobs --keep-order \
		--name ko -c 'if [ "$1" = 1 ]; then while [ ! -e "$T/go" ]; do sleep 0.02; done; fi
			seq -f "$1 %g" 3000' >"$T/out"
	local m=$BG_PID st=0 keeper
	wait_until 30 mpspawn is-alive ko
	keeper=$(mpspawn status ko --json | sed -n 's/.*"supervisor":\([0-9]*\).*/\1/p')
	spilled() {
		local f
		for f in /proc/"$keeper"/fd/*; do
			case $(readlink "$f") in
			"$T/tmp/"*) [ "$(stat -L -c %s "$f")" -gt 100000 ] && return 0 ;;
			esac
		done
		return 1
	}
	wait_until 30 spilled
	touch "$T/go"
	wait "$m" || st=$?
	[ "$st" = 0 ]
	for i in $(seq 12); do seq -f "$i %g" 3000; done | cmp - "$T/out"
}

@test "--keep-order --tag: the tagged stdout lines in order; stderr is not held" {
	seq 30 | mpqueue put jobs
	mpqueue close jobs
	run -0 --separate-stderr mpspawn -j 3 --queue jobs --keep-order --tag \
		-c 'sleep "0.0$((RANDOM % 3))"; echo "out $1"; echo "err $1" >&2'
	[ "$(sed 's/^\[[0-2]\] //' <<<"$output")" = "$(seq 30 | sed 's/^/out /')" ]
	[ "$(grep -c '^\[[0-2]\] out ' <<<"$output")" = 30 ]
	[ "$(grep -c '^\[[0-2]\] err ' <<<"$stderr")" = 30 ]
}

@test "--keep-order is for --queue: a usage error without it" {
	run -64 --separate-stderr mpspawn --keep-order true
	[[ $stderr == *"--keep-order is for --queue"* ]]
}
