#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# valgrind.sh BUILDDIR - memcheck on a run of each tool's main verbs (.ci/run).
#
# BUILDDIR must be a dynamic build (--disable-static-binaries): valgrind
# replaces malloc through the dynamic loader.  Fails when valgrind reports
# an error (invalid access, use of uninitialised memory, bad free) or a
# definite leak; memory still reachable at exit is not a leak.
set -uo pipefail
b=$(cd "${1:?usage: valgrind.sh BUILDDIR}" && pwd)
MP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mptools-vg.XXXXXX")
export MP_DIR
trap 'rm -rf "$MP_DIR"' EXIT
PATH=$b/src:$PATH
runs=0 bad=0

# vg STATUS TOOL ARGS...: runs TOOL under memcheck, expecting exit STATUS.
vg() {
	local want=$1 st
	shift
	valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
		--errors-for-leak-kinds=definite --track-origins=yes --trace-children=no \
		--log-file="$MP_DIR/vg.log" "$@" >"$MP_DIR/out" 2>"$MP_DIR/err" </dev/null
	st=$?
	runs=$((runs + 1))
	if [ "$st" -ne "$want" ]; then
		bad=$((bad + 1))
		echo "FAIL: $* exited $st, not $want"
		sed 's/^/    /' "$MP_DIR/vg.log" "$MP_DIR/err" | head -n 60
	fi
}

vg 0 mplock run db -- true
vg 0 mplock acquire db --owner none --ttl 1h
vg 0 mplock info db --json
vg 0 mplock is-locked db
vg 0 mplock release db --force
vg 0 mplock ls

vg 0 mpsem run gpu -j 2 -- true
vg 0 mpsem acquire gpu --owner none
vg 0 mpsem value gpu
vg 0 mpsem info gpu
vg 0 mpsem release gpu --force
vg 0 mpsem drain gpu -n

vg 0 mpevent set ready
vg 0 mpevent wait ready -t 1
vg 0 mpevent info ready --json
vg 0 mpevent clear ready
vg 1 mpevent is-set ready
vg 0 mpevent ls
vg 0 mpvar set v hello
vg 0 mpvar get v
vg 1 mpvar setnx v x
vg 0 mpvar incr n 5
vg 65 mpvar incr v
vg 1 mpvar cas v x y -p
vg 0 mpvar wait n --ge 5 -t 1
vg 124 mpvar wait n --gt 5 -t 0.1
vg 0 mpvar dump --json
vg 0 mpvar info v --json
vg 0 mpvar ls
vg 0 mpvar unset v
vg 0 mpvar rm v

vg 0 mpqueue put jobs a b c
vg 0 mpqueue get jobs --count 2
vg 0 mpqueue get jobs --lease --owner none
vg 0 mpqueue ack jobs --force
vg 0 mpqueue size jobs
vg 0 mpqueue info jobs --json
vg 0 mpqueue done jobs --count 3
vg 0 mpqueue close jobs
vg 2 mpqueue get jobs -n

vg 0 mpspawn -j 2 --name grp --tag -- echo hi
vg 0 mpspawn status grp
vg 0 mpspawn ls --json

# the front command, and -v's watcher thread (its first line after 1 s)
vg 0 mptools ls
vg 0 mptools ls --json
vg 0 mptools gc --older-than 1h --dry-run
vg 0 mpqueue reopen jobs
vg 124 mpevent -v wait never -t 1500ms
vg 0 mplock acquire held --owner none
vg 124 mplock -v -t 500ms acquire held --owner none

echo "valgrind: $runs runs, $bad with errors"
[ "$bad" -eq 0 ]
