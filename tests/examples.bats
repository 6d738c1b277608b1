#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The scripts of examples/ (the multiprocessing tutorials' scenarios and
# README's demo) run to the end with the tools as they are, and do what
# they say.  ktv.sh and traffic-light.sh are checked in tests/mpsem.bats
# and tests/mpevent.bats.
load helpers/common

ex() {
	echo "$MP_TOP_SRCDIR/examples/$1"
}

@test "pool.sh: four workers square twenty items, each exactly once" {
	run -0 --separate-stderr timeout 60 sh "$(ex pool.sh)"
	local i
	for i in $(seq 1 20); do
		[ "$(grep -c "\] $i \* $i = $((i * i))\$" <<<"$output")" = 1 ]
	done
	[ "$(grep -c ' = ' <<<"$output")" = 20 ]
	[ "${lines[-1]}" = "all done: every item was processed exactly once" ]
	# its queue is gone
	run -0 mpqueue ls
	[ -z "$output" ]
}

@test "tcp-server.sh: four clients at once, eight rounds each, a process per connection; the server stops cleanly" {
	run -0 --separate-stderr timeout 60 bash "$(ex tcp-server.sh)"
	[[ ${lines[0]} =~ ^server\ listening\ on\ 127\.0\.0\.1:[0-9]+$ ]]
	local c r
	for c in 0 1 2 3; do
		for r in 1 2 3 4 5 6 7 8; do
			[ "$(grep -c "^\[$c\] we received your message: hello from client $c, round $r\$" <<<"$output")" = 1 ]
		done
	done
	[ "$(grep -c 'we received' <<<"$output")" = 32 ]
	[[ $output == *": 4 connections ended (0 failed), 0 live, at most 8"* ]]
	[ "${lines[-1]}" = "server stopped" ]
	# the server is gone, and so is its record
	run -0 mpspawn ls
	[ -z "$output" ]
}

@test "joinable.sh: join returns once the nine jobs are done, and close ends the workers" {
	run -0 timeout 60 sh "$(ex joinable.sh)"
	local j
	for j in 1 2 3 4 5 6 7 8 9; do
		[ "$(grep -c ": job $j done\$" <<<"$output")" = 1 ]
	done
	[[ $output == *"main: every job is done (0 waiting)"* ]]
}

@test "producer-consumer.sh: twelve items made, each got once, every consumer ends" {
	run -0 timeout 60 sh "$(ex producer-consumer.sh)"
	local p i
	for p in P1 P2; do
		for i in 1 2 3 4 5 6; do
			[ "$(grep -c ": got $p-item-$i\$" <<<"$output")" = 1 ]
		done
	done
	[ "$(grep -c 'queue closed' <<<"$output")" = 3 ]
}

@test "daemon.sh: the daemon beats while the main program works and ends with it" {
	run -0 --separate-stderr timeout 60 sh "$(ex daemon.sh)"
	[[ $stderr == *"daemon: I am alive"* ]]
	[[ $output != *"stuck"* ]]
	[[ $output == *"main: done; the daemon ends with me"* ]]
	# the group ends when the shell that started it has exited
	wait_until 10 bash -c '! mpspawn is-alive alive'
	run -1 mpspawn is-alive alive
}

@test "demo.sh, README's tour of every tool, runs to the end" {
	run -0 --separate-stderr timeout 120 sh "$(ex demo.sh)"
	# nothing unexpected on stderr: no "queue is closed", no usage error
	[ -z "$stderr" ]
	[[ $output == *"counter = 20 (no update lost)"* ]]
	[[ $output == *"mplock -n: busy, exit 75"* ]]
	[ "$(grep -c ' sings ' <<<"$output")" = 6 ]
	[ "$(grep -c 'drives' <<<"$output")" = 3 ]
	[[ $output == *"all 8 jobs done"* ]]
	# every job consumed once, and all of them before "all 8 jobs done"
	local j before
	before=$(sed -n '/mpqueue:/,/all 8 jobs done/p' <<<"$output")
	for j in 1 2 3 4 5 6 7 8; do
		[ "$(grep -c " got $j\$" <<<"$before")" = 1 ]
	done
	[ "$(grep -c ' got ' <<<"$output")" = 8 ]
	local w
	for w in 0 1 2; do
		[[ $output == *"[$w] hello from worker $w of 3"* ]]
	done
}
