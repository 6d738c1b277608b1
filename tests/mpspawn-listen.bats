#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mpspawn --listen: a handler per connection, the cap and the backlog,
# tcpserver's environment, status of live connections, the graceful stop,
# no zombies or orphans, bad input.
load helpers/common

setup() {
	mp_common_setup
	T=$BATS_TEST_TMPDIR
	export T
	command -v python3 >/dev/null || skip "python3 is not installed (the test client)"
}

# client ADDR [DATA]: connects to ADDR (HOST:PORT, [V6]:PORT or
# unix:PATH), sends DATA, closes its side and prints the reply to EOF.
client() {
	python3 - "$@" <<'EOF'
import socket, sys
addr = sys.argv[1]
data = sys.argv[2].encode() if len(sys.argv) > 2 else b""
if addr.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX)
    s.connect(addr[5:])
elif addr.startswith("["):
    host, port = addr[1:].split("]:")
    s = socket.socket(socket.AF_INET6)
    s.connect((host, int(port)))
else:
    host, port = addr.rsplit(":", 1)
    s = socket.socket()
    s.connect((host, int(port)))
# a handler that does not read may have ended already: the peer is gone
try:
    if data:
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)
except (BrokenPipeError, ConnectionResetError, OSError):
    pass
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode(errors="replace"))
EOF
}

# serve ARGS...: starts `mpspawn --name srv ARGS...` in the background
# (stdout in $T/out, stderr in $T/err) and, for a TCP port 0, waits for
# the address it prints into $A.  $S is its pid.
serve() {
	start_bg mpspawn --name srv "$@" >"$T/out" 2>"$T/err"
	S=$BG_PID
	if [[ " $* " == *" --listen unix:"* ]]; then
		wait_until 30 mpspawn is-alive srv
		return
	fi
	wait_until 30 lines_are "$T/out" 1
	A=$(head -1 "$T/out")
}

# gfield FIELD: a field of group srv from status --json.
gfield() {
	mpspawn status srv --json | sed 's/,"workers":\[.*//' |
		sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" | tr -d '"'
}

live_is() {
	[ "$(gfield running)" = "$1" ]
}

@test "--listen 0 prints 127.0.0.1:PORT; a handler per connection has it as stdin and stdout, with tcpserver's variables" {
	serve --listen 0 -c 'read -r l; echo "got[$l] $PROTO $TCPREMOTEIP $TCPLOCALIP:$TCPLOCALPORT id=$MP_WORKER_ID"
		echo "$TCPREMOTEPORT" >"$T/rport.$MP_WORKER_ID"'
	[[ $A =~ ^127\.0\.0\.1:[0-9]+$ ]]
	[ "${A##*:}" != 0 ]
	run -0 client "$A" $'hello\n'
	[ "$output" = "got[hello] TCP 127.0.0.1 $A id=0" ]
	run -0 client "$A" $'again\n'
	[ "$output" = "got[again] TCP 127.0.0.1 $A id=1" ]
	# the peer's port is the client's: a number, not ours
	[[ $(cat "$T/rport.0") =~ ^[0-9]+$ ]] && [ "$(cat "$T/rport.0")" != "${A##*:}" ]
	# stdout of mpspawn carries the address only
	[ "$(wc -l <"$T/out")" = 1 ]
}

@test "-j 2: a third connection waits in the backlog, is not refused, and is served when a slot frees" {
	serve --listen 0 -j 2 -c 'echo "$MP_WORKER_ID" >>"$T/started"
		while [ ! -e "$T/go" ]; do sleep 0.02; done; echo "served $MP_WORKER_ID"'
	for i in 1 2 3; do
		client "$A" >"$T/reply.$i" 3>&- &
		echo $! >>"$BG_PIDS"
		wait_until 30 lines_are "$T/started" $((i < 3 ? i : 2))
	done
	wait_until 30 live_is 2
	[ "$(gfield nworkers)" = 2 ]
	# two handlers run; the third connection waits (accepted by the kernel)
	[ "$(wc -l <"$T/started")" = 2 ]
	touch "$T/go"
	wait_until 30 lines_are "$T/started" 3
	for i in 1 2 3; do
		wait_until 30 file_has "$T/reply.$i" served
	done
	wait_until 30 [ "$(gfield connections)" = 3 ]
	[ "$(gfield failed)" = 0 ]
}

@test "the default cap is 4 handlers per CPU" {
	serve --listen 0 cat
	[ "$(gfield nworkers)" = $(($(nproc) * 4)) ]
}

@test "[::1]:0 listens on IPv6 and prints [::1]:PORT" {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null ||
		skip "no IPv6 loopback here"
	serve --listen '[::1]:0' -c 'echo "$PROTO $TCPREMOTEIP"'
	[[ $A =~ ^\[::1\]:[0-9]+$ ]]
	run -0 client "$A"
	[ "$output" = "TCP ::1" ]
}

@test "unix:PATH: PROTO=UNIX and the peer's uid and pid; a stale socket is replaced, and it is removed at the end" {
	python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind("'"$T/sock"'")'
	[ -S "$T/sock" ]
	serve --listen "unix:$T/sock" -c 'echo "$PROTO $UNIXREMOTEUID $UNIXREMOTEPID"'
	run -0 client "unix:$T/sock"
	set -- $output
	[ "$1" = UNIX ] && [ "$2" = "$(id -u)" ] && [[ $3 =~ ^[0-9]+$ ]]
	# a second server on a socket in use: 71
	run -71 --separate-stderr mpspawn --listen "unix:$T/sock" cat
	[[ $stderr == *"unix:$T/sock"*"listening"* ]]
	kill -TERM "$S"
	wait_until 30 dead "$S"
	[ ! -e "$T/sock" ]
}

@test "status lists each live connection with its peer and runtime" {
	serve --listen 0 -c 'touch "$T/in.$MP_WORKER_ID"; while [ ! -e "$T/go" ]; do sleep 0.02; done'
	client "$A" >/dev/null 3>&- &
	echo $! >>"$BG_PIDS"
	wait_until 30 [ -e "$T/in.0" ]
	wait_until 30 live_is 1
	run -0 mpspawn status srv
	[[ $output == *"listen:    $A: 0 connections ended (0 failed), 1 live"* ]]
	[[ $output =~ $'\n'0\ +[0-9]+\ +127\.0\.0\.1:[0-9]+\ .*[0-9]+ms ]] ||
		[[ $output =~ $'\n'0\ +[0-9]+\ +127\.0\.0\.1:[0-9]+\ .*[0-9.]+s ]]
	run -0 mpspawn status srv --json
	[[ $output == *'"connection":0,"peer":"127.0.0.1:'* ]]
	[[ $output == *"\"listen\":\"$A\""* ]]
	touch "$T/go"
	wait_until 30 live_is 0
	[ "$(gfield connections)" = 1 ]
}

@test "SIGTERM stops accepting, lets the running handler finish, and exits 0" {
	serve --listen 0 -c 'echo $$ >"$T/h"; while [ ! -e "$T/go" ]; do sleep 0.02; done; echo bye'
	client "$A" >"$T/reply" 3>&- &
	echo $! >>"$BG_PIDS"
	wait_until 30 [ -s "$T/h" ]
	kill -TERM "$S"
	wait_until 30 [ "$(gfield state)" = stopping ]
	# no new connection is taken while the old one finishes
	run ! client "$A"
	alive "$(cat "$T/h")"
	touch "$T/go"
	local st=0
	wait "$S" || st=$?
	[ "$st" = 0 ]
	# the client writes what it read once it sees the end: poll for it
	wait_until 30 file_has "$T/reply" bye
	[ "$(cat "$T/reply")" = bye ]
	[ "$(gfield status)" = 0 ]
}

@test "after a stop, --timeout then --signal, and --kill-after then SIGKILL, end handlers that go on" {
	serve --listen 0 -t 0.3 -k 0.3 -c 'trap "echo TERM >>\"$T/got\"" TERM
		echo $$ >"$T/h"; while :; do sleep 0.02; done'
	client "$A" >/dev/null 3>&- &
	echo $! >>"$BG_PIDS"
	wait_until 30 [ -s "$T/h" ]
	kill -INT "$S"
	local st=0
	wait "$S" || st=$?
	[ "$st" = 0 ]
	[ "$(cat "$T/got")" = TERM ]
	dead "$(cat "$T/h")"
}

@test "mpspawn kill NAME stops the server gracefully; a second kill ends the handlers at once" {
	serve --listen 0 -c 'echo $$ >"$T/h"; exec sleep 300'
	client "$A" >/dev/null 3>&- &
	echo $! >>"$BG_PIDS"
	wait_until 30 [ -s "$T/h" ]
	run -0 mpspawn kill srv
	wait_until 30 [ "$(gfield state)" = stopping ]
	alive "$(cat "$T/h")"
	run -0 mpspawn kill srv
	local st=0
	wait "$S" || st=$?
	[ "$st" = 0 ]
	dead "$(cat "$T/h")"
}

@test "SIGKILL of mpspawn ends every handler" {
	serve --listen 0 -j 3 -c 'echo $$ >>"$T/h"; exec sleep 300'
	for i in 1 2 3; do
		client "$A" >/dev/null 3>&- &
		echo $! >>"$BG_PIDS"
	done
	wait_until 30 lines_are "$T/h" 3
	kill -KILL "$S"
	for p in $(cat "$T/h"); do
		wait_until 30 dead "$p"
	done
	run -1 mpspawn is-alive srv
}

@test "no zombies: 60 connections from 6 clients at once are all served and reaped" {
	serve --listen 0 -j 4 -c 'read -r l; echo "$l"'
	for c in 1 2 3 4 5 6; do
		(for i in $(seq 10); do client "$A" "$c.$i"$'\n'; done >"$T/c.$c") 3>&- &
		echo $! >>"$BG_PIDS"
	done
	for c in 1 2 3 4 5 6; do
		wait_until 60 lines_are "$T/c.$c" 10
	done
	wait_until 30 [ "$(gfield connections)" = 60 ]
	local keeper
	keeper=$(gfield supervisor)
	# nothing is left below the supervisor: no handler, no zombie
	wait_until 30 [ -z "$(cat /proc/"$keeper"/task/*/children)" ]
	run -0 mpspawn is-alive srv
}

@test "--tag prefixes the handlers' stderr lines with the connection's number" {
	serve --listen 0 --tag -c 'echo "to client"; echo "log $MP_WORKER_ID" >&2'
	run -0 client "$A"
	[ "$output" = "to client" ]
	run -0 client "$A"
	wait_until 30 file_has "$T/err" '^\[1\] log 1$'
	grep -q '^\[0\] log 0$' "$T/err"
}

@test "a handler that cannot be executed is reported once per connection, and the server goes on serving" {
	printf '#!/nonexistent/interpreter\n' >"$T/bad"
	chmod +x "$T/bad"
	serve --listen 0 "$T/bad"
	run -0 client "$A"
	run -0 client "$A"
	wait_until 30 [ "$(gfield failed)" = 2 ]
	[ "$(grep -c "cannot run" "$T/err")" = 2 ]
	run -0 mpspawn is-alive srv
	run -0 mpspawn status srv --json
	[[ $output == *'"status":127'* ]]
}

@test "--daemon --listen 0 prints the address, then the group's name" {
	run -0 mpspawn --daemon --owner none --name dsrv --listen 0 -c 'echo hi'
	[[ ${lines[0]} =~ ^127\.0\.0\.1:[0-9]+$ ]]
	[ "${lines[1]}" = dsrv ]
	run -0 client "${lines[0]}"
	[ "$output" = hi ]
	run -0 mpspawn kill dsrv
	run -0 mpspawn wait dsrv
}

@test "bad addresses are usage errors (64); an address in use is 71, naming it and why" {
	run -64 --separate-stderr mpspawn --listen 'nonsense' cat
	[[ $stderr == *"--listen"*"nonsense"* ]]
	run -64 mpspawn --listen 65536 cat
	run -64 mpspawn --listen '1.2.3:80' cat
	run -64 mpspawn --listen '::1:80' cat
	run -64 mpspawn --listen '[::1]80' cat
	run -64 mpspawn --listen 'example.com:80' cat
	run -64 mpspawn --listen 'unix:' cat
	run -64 mpspawn --backlog 5 cat
	run -64 mpspawn --listen 0 --queue q cat
	run -64 mpspawn --listen 0 --restart on-failure cat
	serve --listen 0 cat
	run -71 --separate-stderr mpspawn --listen "$A" cat
	[[ $stderr == *"cannot listen on '$A': Address already in use"* ]]
	run -71 mpspawn --listen 192.0.2.1:0 cat
}

@test "a port that is not permitted is 77" {
	if [ "$(id -u)" = 0 ]; then
		command -v setpriv >/dev/null || skip "no setpriv"
		tools_for_uid 65534
		run -77 --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
			env MP_DIR="$T/nobody" "$OTHER_BIN/mpspawn" --listen 1 cat
	else
		run -77 --separate-stderr mpspawn --listen 1 cat
	fi
	[[ $stderr == *"cannot listen on '127.0.0.1:1': Permission denied"* ]]
}
