#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# traffic-light.sh - the traffic light of Python's multiprocessing.Event
# examples, with mpevent: a light process turns the event green (set) and
# red (clear) in turns; cars wait for green; a police car waits at most a
# moment at the red light and then goes anyway.
#
#   examples/traffic-light.sh          (mpevent must be in PATH)
set -eu

ev=traffic-light.$$
mpevent create "$ev"		# clear: the light starts red
trap 'mpevent rm "$ev" 2>/dev/null || true' EXIT

light() {
	for _ in 1 2; do		# two cycles
		echo "light: red"
		sleep 0.5
		echo "light: green"
		mpevent set "$ev"	# every car waiting goes now
		sleep 0.5
		mpevent clear "$ev"
	done
	echo "light: red"
}

car() {
	sleep "$2"		# arrives at the crossing
	if ! mpevent is-set "$ev"; then
		echo "car $1: red, waits"
	fi
	mpevent wait "$ev"
	echo "car $1: green, goes"
}

police_car() {
	if mpevent wait -q -t 0.2 "$ev"; then
		echo "police car: green, goes"
	else
		echo "police car: red, goes anyway"
	fi
}

light &
police_car &
car 1 0.1 &
car 2 0.7 &
car 3 1.2 &
wait
