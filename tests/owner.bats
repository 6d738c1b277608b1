#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Owner identity and liveness (src/lib/owner.c).
load helpers/common

@test "a live process is alive" {
	run -0 t-owner alive $$
	[ "$output" = 1 ]
}

@test "a zombie counts as dead" {
	run -0 t-owner zombie
	[ "$output" = "1 0" ]
}

@test "a child whose forking thread died sees it, where getppid() cannot (a wrapper with a lease thread SIGKILLed in vfork)" {
	# getppid() still names the process (its other thread adopted the
	# child, and the death signal was sent before the child set it); the
	# command of mplock/mpsem run would run on without a holder
	run -0 t-owner thread-fork
	[ "$output" = "1 1" ]
}

@test "a recycled pid is not the owner: a different start time is dead" {
	start=$(t-owner start $$)
	run -0 t-owner alive $$ "$((start + 1))"
	[ "$output" = 0 ]
	run -0 t-owner alive $$ "$start"
	[ "$output" = 1 ]
}

@test "a process name with ') R 1 (' does not confuse the stat parser" {
	cp "$(command -v sleep)" "$BATS_TEST_TMPDIR/x) R 1 2 3 (y"
	start_bg "$BATS_TEST_TMPDIR/x) R 1 2 3 (y" 100
	wait_until 20 test -e /proc/$BG_PID/stat
	start=$(t-owner start "$BG_PID")
	[ "$start" -gt 0 ]
	run -0 t-owner alive "$BG_PID" "$start"
	[ "$output" = 1 ]
}

@test "a command's start time read off the clock around its fork is the one /proc gives" {
	# mplock and mpsem run name their command as a helper without reading
	# /proc when the clock pins its start; a wrong time would let the
	# hold be taken back from a live command.
	run -0 t-owner spawn 500
	read -r pinned wrong <<<"$output"
	echo "pinned $pinned of 500, wrong $wrong"
	[ "$wrong" = 0 ]
	[ "$pinned" -ge 400 ]
}

@test "a forked child names itself, not the parent whose identity was cached" {
	run -0 t-owner self-fork
	read -r ppid pstart cpid cstart pid start <<<"$output"
	echo "$output"
	[ "$cpid" = "$pid" ]
	[ "$cpid" != "$ppid" ]
	[ "$cstart" = "$start" ]
	[ "$pstart" -gt 0 ]
}
