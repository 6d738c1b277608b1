#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# producer-consumer.sh - Python's multiprocessing producer/consumer with a
# bounded Queue(3), with mpqueue: two producers make six items each, three
# consumers take them.  Where Python puts one None sentinel per consumer,
# `mpqueue close` ends every consumer's loop once the queue is drained:
# `mpqueue get` then exits 2.  A full queue makes the producers wait, as
# Queue.put does; put -n would exit 75 instead (Full).
#
#   examples/producer-consumer.sh      (mpqueue must be in PATH)
set -eu

q=producer-consumer.$$
mpqueue create "$q" --max-items 3	# Queue(3)
trap 'mpqueue rm "$q" 2>/dev/null || true' EXIT

producer() {
	for i in 1 2 3 4 5 6; do
		mpqueue put "$q" "$1-item-$i"	# waits while 3 are queued
		echo "producer $1: put $1-item-$i"
	done
}

consumer() {
	n=0
	while item=$(mpqueue get "$q"); do	# exits 2 when closed and drained
		echo "consumer $1: got $item"
		n=$((n + 1))
		sleep 0.01			# the work
	done
	echo "consumer $1: queue closed, $n items"
}

consumer A &
consumer B &
consumer C &
producer P1 &
p1=$!
producer P2 &
p2=$!
wait "$p1" "$p2"
mpqueue close "$q"			# the sentinel
wait
