#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2016 # '$1' and '$MP_WORKER_ID' are for the sh -c that runs them
# pool.sh - Python's multiprocessing.Pool(4).map(f, items) with mpqueue and
# mpspawn: a producer puts work items on a queue, four workers take them,
# one at a time, and run a command on each.  A worker that dies while it
# holds an item does not lose it: the item's lease goes back to the queue
# and another worker takes it.
#
#   examples/pool.sh          (mpqueue and mpspawn must be in PATH)
set -eu

q=pool.$$
trap 'mpqueue rm "$q" 2>/dev/null || true' EXIT

# The producer: twenty numbers, then (--close) the "no more work" sentinel.
seq 1 20 | mpqueue put "$q" --close

# f(x) = x * x, slowly; the worker's number says who did what.  With -c,
# the item is $1.  --tag keeps the lines of the workers apart.
mpspawn -j 4 --queue "$q" --tag -c '
	sleep 0.1
	echo "$1 * $1 = $(($1 * $1))"
'
echo "all done: every item was processed exactly once"
