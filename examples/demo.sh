#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2016 # '$1' and '$MP_WORKER_ID' are for the sh -c that runs them
# demo.sh - a one-minute tour of mptools, in a throw-away store.
# Run from a build tree (uses ./src/ when present) or with the tools in PATH.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
for d in "$PWD/src" "$here/src"; do
	[ -x "$d/mplock" ] && PATH="$d:$PATH" && break
done
MP_DIR=$(mktemp -d)
export MP_DIR PATH
trap 'rm -rf "$MP_DIR"' EXIT
say() { printf '\n== %s\n' "$*"; }

say "mplock: 20 processes increment one counter file under a lock"
echo 0 >"$MP_DIR/counter"
i=0
while [ $i -lt 20 ]; do
	mplock run counter sh -c 'n=$(cat "$1"); echo $((n + 1)) >"$1"' sh "$MP_DIR/counter" &
	i=$((i + 1))
done
wait
echo "counter = $(cat "$MP_DIR/counter") (no update lost)"
mplock acquire db --owner none
mplock -q -n run db true || echo "mplock -n: busy, exit $?"
mplock release db --owner none

say "mpsem: 6 singers, a karaoke room with 2 microphones"
for who in ann bob cid dee eve fay; do
	mpsem run mic -j 2 sh -c 'echo "  $1 sings ($(mpsem value mic) mic free)"; sleep 0.2' sh "$who" &
done
wait

say "mpevent: cars wait for green; the light turns green once"
for car in 1 2 3; do
	(mpevent wait green -t 5 && echo "  car $car drives") &
done
sleep 0.3
echo "  light: green"
mpevent set green
wait

say "mpqueue: a producer and two consumers, with join"
mpqueue create jobs --max-items 4
seq 1 8 | mpqueue put jobs &	# blocks while the queue holds 4
producer=$!
for c in a b; do
	(while m=$(mpqueue get jobs); do echo "  consumer $c got $m"; mpqueue task-done jobs; done) &
done
wait "$producer"	# every job is in: join waits for them all
mpqueue join jobs -t 10 && echo "  all 8 jobs done"
mpqueue close jobs	# the consumers' get ends with status 2
wait

say "mpspawn: 3 workers with tagged output"
mpspawn -j 3 --tag -- sh -c 'echo "hello from worker $MP_WORKER_ID of $MP_WORKERS"'
echo
echo "Exit statuses, owners and the store: man mptools"
