#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# daemon.sh - a daemon process that says "I am alive" for the main program,
# as in Python's multiprocessing examples with daemon = True: it runs in the
# background while the main program works, and ends when the main program
# ends, even if the main program is killed.  A watchdog reads its
# heartbeat.
#
#   examples/daemon.sh          (mpspawn must be in PATH)
set -eu

# The daemon prints a line and stamps its heartbeat every half second.
# mpspawn --daemon returns at once; the group ends when this shell exits.
# (Its record stays in the store for 'mpspawn wait' and is reused by the
# next run; 'mpspawn rm alive' removes it.)
name=$(mpspawn --daemon --name alive --heartbeat 2s -c '
	while :; do
		echo "daemon: I am alive" >&2
		mpspawn beat
		sleep 0.5
	done')

# The main program works...
for step in 1 2 3; do
	echo "main: step $step"
	sleep 0.4
	# ...and checks that the daemon is still beating
	mpspawn status "$name" >/dev/null || echo "main: the daemon is stuck!"
done

mpspawn status "$name"
echo "main: done; the daemon ends with me"
