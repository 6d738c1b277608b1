#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The fuzz corpus (tests/fuzz/corpus/TARGET/) as a regression suite: each
# input goes through its target (a libFuzzer binary with --enable-fuzzing,
# else a plain driver: tests/fuzz/fuzz.h), and every object of the corpus
# through the real tools' read verbs.  A clean error is fine; a signal, a
# hang or a sanitizer report fails.
load helpers/common

FUZZ="$MP_TOP_BUILDDIR/tests/fuzz"
CORPUS="$MP_TOP_SRCDIR/tests/fuzz/corpus"

setup() {
	mp_common_setup
	# the targets' private stores go under the test's directory; a
	# sanitizer report ends the run with a status no tool uses
	export TMPDIR="$BATS_TEST_TMPDIR"
	# leaks at exit of a CLI are not bugs; the targets check the library for
	# leaks, valgrind (tests/valgrind.sh) each tool
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99:detect_leaks=0"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:exitcode=99"
}

# replay TARGET: runs the target on every input of its corpus.
replay() {
	local t=$1
	[ -x "$FUZZ/fuzz-$t" ] || skip "fuzz-$t is not built (make check builds it)"
	run "$FUZZ/fuzz-$t" "$CORPUS/$t"/*
	echo "$output" | grep -E 'ERROR|runtime error|SUMMARY|Running|inputs run' | tail -n 20
	[ "$status" -eq 0 ]
}

@test "fuzz-lock replays the lock corpus without a crash or a sanitizer report" {
	replay lock
}

@test "fuzz-sem replays the semaphore corpus without a crash or a sanitizer report" {
	replay sem
}

@test "fuzz-event replays the event corpus without a crash or a sanitizer report" {
	replay event
}

@test "fuzz-queue replays the queue corpus without a crash or a sanitizer report" {
	replay queue
}

@test "fuzz-spawn replays the spawn corpus without a crash or a sanitizer report" {
	replay spawn
}

@test "fuzz-var replays the variable corpus without a crash or a sanitizer report" {
	replay var
}

@test "fuzz-parse replays the parser corpus without a crash or a broken promise" {
	replay parse
}

# tools KIND TOOL VERB...: writes each corpus object of KIND as KIND.x of
# a store (adjusted as the target does it, fuzz.h) and runs `TOOL VERB x`
# for each VERB (a verb with options is one word with commas: info,--json),
# then `TOOL ls` and `TOOL ls --json`.  Any exit status is fine except a
# signal (128+N), a hang (SIGKILLed after 20 s) or a sanitizer's 99.
tools() {
	local kind=$1 tool=$2 f v st bad=0 n=0
	shift 2
	[ -x "$FUZZ/fuzz-$kind" ] || skip "fuzz-$kind is not built (make check builds it)"
	mkdir -m 0700 "$MP_DIR"
	for f in "$CORPUS/$kind"/*; do
		rm -f "$MP_DIR"/*
		FUZZ_STORE="$MP_DIR" FUZZ_PREPARE_ONLY=1 "$FUZZ/fuzz-$kind" "$f" 2>/dev/null
		for v in "$@" ls ls,--json; do
			st=0
			if [ "${v%%,*}" = ls ]; then
				timeout -s KILL 20 "$tool" ${v//,/ } >/dev/null 2>&1 </dev/null || st=$?
			else
				timeout -s KILL 20 "$tool" ${v//,/ } x >/dev/null 2>&1 </dev/null || st=$?
			fi
			n=$((n + 1))
			if [ "$st" -ge 126 ] || [ "$st" -eq 99 ]; then
				echo "$tool ${v//,/ } on $(basename "$f"): status $st"
				bad=$((bad + 1))
			fi
		done
	done
	echo "$n runs, $bad bad"
	[ "$n" -gt 0 ]
	[ "$bad" -eq 0 ]
}

@test "mplock info, is-locked and ls on every corrupt lock of the corpus end without a signal" {
	tools lock mplock info info,--json is-locked release,--force acquire,-n,--owner,none
}

@test "mpsem info, value and ls on every corrupt semaphore of the corpus end without a signal" {
	tools sem mpsem info info,--json value drain,-n acquire,-n,--owner,none
}

@test "mpevent info, is-set and ls on every corrupt event of the corpus end without a signal" {
	tools event mpevent info info,--json is-set wait,-n set clear
}

@test "mpqueue info, size, get -n and ls on every corrupt queue of the corpus end without a signal" {
	tools queue mpqueue info info,--json size get,-n,--count,4 get,-n,--lease,--owner,none \
		ack,--force put,-n,m done join,-n close
}

@test "mpspawn status, is-alive and ls on every corrupt group of the corpus end without a signal" {
	tools spawn mpspawn status status,--json is-alive
}

@test "mpvar get, info, incr, wait -n and ls on every corrupt variable of the corpus end without a signal" {
	tools var mpvar get get,--raw info info,--json incr decr,--init,3 unset wait,-n,--ge,5 \
		wait,-n,--eq,x
}

@test "the committed corpus stays small: at most 80 inputs of at most 16 KiB per target" {
	local t n big bad=0
	for t in lock sem event queue spawn var parse; do
		n=$(find "$CORPUS/$t" -type f | wc -l)
		big=$(find "$CORPUS/$t" -type f -size +16k | wc -l)
		echo "$t: $n inputs, $big over 16 KiB"
		if [ "$n" -lt 5 ] || [ "$n" -gt 80 ] || [ "$big" -ne 0 ]; then
			bad=1
		fi
	done
	[ "$bad" -eq 0 ]
}

@test "an object whose internal mutex is garbage is refused with 65, neither a crash nor a hang" {
	# the one part of an object the fuzz targets replace (fuzz.h): its
	# bytes are glibc's mutex, which answers garbage with EINVAL
	local garbage
	garbage=$(printf '\\xff%.0s' $(seq 40))
	mplock create L
	mpevent create E
	mpqueue create Q
	for f in lock.L event.E queue.Q; do
		printf "$garbage" | dd of="$MP_DIR/$f" bs=1 seek=152 conv=notrunc status=none
	done
	run -65 timeout -s KILL 20 mplock info L
	[[ $output == *"is corrupt: its internal lock is not a valid mutex"* ]]
	run -65 timeout -s KILL 20 mplock acquire -n L --owner none
	run -65 timeout -s KILL 20 mpevent is-set E
	run -65 timeout -s KILL 20 mpqueue put -n Q m
}
