#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2016 # the handlers' and clients' code is single-quoted: theirs to expand
# tcp-server.sh - the multiprocessing tutorial's TCP server, a process per
# connection: the server accepts, and each client is talked to by a
# process of its own (Python: Process(target=talk, args=(conn,)).start()),
# so one slow client does not hold up the others.  Here mpspawn --listen
# is the server and the accept loop; `talk` is a shell loop with the
# connection as its stdin and stdout.  Four clients talk to it at once,
# eight rounds each.
#
#   examples/tcp-server.sh     (mpspawn in PATH; bash for /dev/tcp)
set -eu

name=echo.$$

# The server: port 0 picks a free port, printed first (then the name);
# at most 8 clients are talked to at once, the others wait to be
# accepted.  --daemon: it ends when this script does, at the latest.
started=$(mpspawn --daemon --name "$name" --listen 0 -j 8 -c '
	while IFS= read -r msg; do
		echo "we received your message: $msg"
	done')
addr=${started%%$'\n'*}
trap 'mpspawn kill -q "$name" || true; mpspawn rm "$name" 2>/dev/null || true' EXIT
echo "server listening on $addr"

# The clients, four at once: each connects, sends eight messages and reads
# the answer to each (bash: /dev/tcp).  --tag keeps their lines apart.
export addr
mpspawn -j 4 --tag -- bash -c '
	exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"
	for round in 1 2 3 4 5 6 7 8; do
		echo "hello from client $MP_WORKER_ID, round $round" >&3
		IFS= read -r reply <&3
		echo "$reply"
	done
	exec 3<&-'

# While it runs, `mpspawn status NAME` lists the live connections.
mpspawn status "$name" | sed -n 's/^listen: *//p'

# Stop it: no new connections; the running ones finish; exit status 0.
mpspawn kill "$name"
mpspawn wait "$name"
echo "server stopped"
