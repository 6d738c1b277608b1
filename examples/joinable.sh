#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# joinable.sh - Python's JoinableQueue with mpqueue: workers mark each job
# done (task_done), and the main script waits in `mpqueue join` until
# every job put has been marked done, while the workers keep waiting for
# more.  Then it closes the queue, which ends the workers.  The workers
# take their jobs with --lease: a worker killed in the middle of a job
# does not lose it, the job is delivered again to another worker.
#
#   examples/joinable.sh               (mpqueue must be in PATH)
set -eu

q=joinable.$$
mpqueue create "$q"
trap 'mpqueue rm "$q" 2>/dev/null || true' EXIT

worker() {
	while job=$(mpqueue get "$q" --lease); do
		sleep "0.0$job"			# the work: job N takes N/100 s
		echo "worker $1: job $job done"
		mpqueue ack "$q"		# it leaves the queue for good
		mpqueue task-done "$q"		# task_done()
	done
}

for w in 1 2 3; do
	worker "$w" &
done
mpqueue put "$q" 5 3 8 1 9 2 7 4 6
mpqueue join "$q"			# JoinableQueue.join()
echo "main: every job is done ($(mpqueue size "$q") waiting)"
mpqueue close "$q"			# ends the workers
wait
