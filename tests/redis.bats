#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Redis store (DESIGN §7): what only a store shared by several hosts
# has — URLs, logins, hosts, leases, keepers, a server that stops.  Run by
# tests/redis-store.redis on a redis-server of its own (tests/with-redis); every
# test skips on the local store.
load helpers/common

setup() {
	mp_common_setup
	redis_store_only
	SOCK=${MP_TEST_STORE#unix://}
	SERVER_PID=$(cat "$(dirname "$SOCK")/pid")
	export T=$BATS_TEST_TMPDIR
}

teardown() {
	# a stopped server must not outlive the test that stopped it
	[ -n "${SERVER_PID:-}" ] && kill -CONT "$SERVER_PID" 2>/dev/null
	mp_common_teardown
}

waiters_are() {
	[ "$(mplock info "$1" --json | sed -n 's/.*"waiters":\([0-9]*\).*/\1/p')" = "$2" ]
}

# none_alive FILE: no process whose pid is a line of FILE is alive.
none_alive() {
	local p
	while read -r p; do
		alive "$p" && return 1
	done <"$1"
	return 0
}

# restart_server [--aof]: stops the test's server and starts a new one on
# the same socket.  Without persistence (SIGTERM, everything is gone); with
# --aof the server is killed (SIGKILL, a crash) and comes back from its
# append-only file (use_aof turns it on first).  The new server must not
# hold bats's fd 3: bats would wait for it at the end of the suite.
restart_server() {
	local dir aof=no sig=TERM
	dir=$(dirname "$SOCK")
	if [ "${1:-}" = --aof ]; then
		aof=yes
		sig=KILL
	fi
	kill -"$sig" "$SERVER_PID" 2>/dev/null || true
	wait_until 10 dead "$SERVER_PID"
	rm -f "$SOCK"
	"${MP_TEST_REDIS_SERVER:-redis-server}" --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --save '' \
		--appendonly "$aof" --appendfsync always \
		--daemonize yes --pidfile "$dir/pid" --logfile "$dir/log" --dir "$dir" \
		--maxclients 4000 </dev/null >/dev/null 2>&1 3>&-
	wait_until 10 test -S "$SOCK"
	wait_until 10 loaded
	SERVER_PID=$(cat "$dir/pid")
}

loaded() {
	rcli info persistence | grep -q '^loading:0'
}

aof_on() {
	rcli info persistence | tr -d '\r' >"$BATS_TEST_TMPDIR/pers"
	grep -qx 'aof_enabled:1' "$BATS_TEST_TMPDIR/pers" &&
		grep -qx 'aof_rewrite_in_progress:0' "$BATS_TEST_TMPDIR/pers" &&
		grep -qx 'aof_rewrite_scheduled:0' "$BATS_TEST_TMPDIR/pers"
}

# use_aof: the running server writes every change to its append-only file
# before it answers (appendfsync always), as mptools(7) says a queue needs.
use_aof() {
	rcli config set appendfsync always >/dev/null
	rcli config set appendonly yes >/dev/null
	wait_until 20 aof_on
}

rcli() {
	redis-cli -s "$SOCK" "$@"
}

holders_are() {
	local n
	n=$(mplock info "$1" --json | sed -n 's/.*"holders":\[\([^]]*\)\].*/\1/p' | grep -o owner_pid | wc -l)
	[ "$n" = "$2" ]
}

@test "a server that cannot be reached, a refused login and a missing database exit 69 naming the store" {
	run -69 --separate-stderr mplock --store redis://127.0.0.1:1/0 info L
	[[ $stderr == *"redis://127.0.0.1:1/0"* ]]
	[[ $stderr == *"unavailable"* ]]
	run -69 --separate-stderr env MP_STORE=unix:///nonexistent/redis.sock mpevent set e
	[[ $stderr == *"unix:///nonexistent/redis.sock"* ]]
	# the server has no password: a login with one is refused; the
	# password is never printed
	run -69 --separate-stderr env MP_REDIS_PASSWORD=s3cret-pw mplock acquire L --owner none
	[[ $stderr == *"login was refused"* ]]
	[[ $stderr != *"s3cret-pw"* ]]
	run -69 --separate-stderr mplock --store "redis://user:s3cret-pw@127.0.0.1:1/0" info L
	[[ $stderr == *"***@"* ]]
	[[ $stderr != *"s3cret-pw"* ]]
	run -69 --separate-stderr mpsem --store "unix://$SOCK?db=999" value S
	[[ $stderr == *"select the database"* ]]
	run -69 --separate-stderr mplock --store "redis://host:notaport/0" info L
	[[ $stderr == *"port"* ]]
	# a URL that does not parse is shown without its password
	run -69 --separate-stderr mplock --store "redis://u:hunter2@host/x" info L
	[[ $stderr == *"not a number"* ]]
	[[ $stderr != *"hunter2"* ]]
	run -69 --separate-stderr mplock --store "rediss://127.0.0.1:6380/0" info L
	[[ $stderr == *"TLS is not supported"* ]]
}

@test "a server at its client limit: tools exit 69 saying so, not 65 or 124, do nothing, and leave no connection" {
	local d=$T/full
	mkdir -p "$d"
	"${MP_TEST_REDIS_SERVER:-redis-server}" --port 0 --unixsocket "$d/s" --unixsocketperm 700 --save '' \
		--appendonly no --daemonize yes --pidfile "$d/pid" --logfile "$d/log" --dir "$d" \
		--maxclients 2 </dev/null >/dev/null 2>&1 3>&-
	wait_until 10 test -S "$d/s"
	wait_until 10 test -s "$d/pid"
	cat "$d/pid" >>"$BG_PIDS"
	export MP_STORE="unix://$d/s"
	mpevent create e
	# a waiter holds both connections the server allows
	start_bg mpevent wait e -t 120
	wait_until 20 bash -c 'mpevent info e; [ $? = 69 ]'
	run -69 --separate-stderr mpevent info e
	[[ $stderr == *"unix://$d/s"*"unavailable"*"max number of clients reached"* ]]
	run -69 --separate-stderr mplock run L true
	[[ $stderr == *"max number of clients reached"* ]]
	run -69 --separate-stderr mpevent set e
	[[ $stderr == *"max number of clients reached"* ]]
	run -69 --separate-stderr mpvar incr v
	run -69 --separate-stderr mpqueue put q m
	run -69 --separate-stderr mpevent wait e -t 5
	[[ $stderr == *"max number of clients reached"* ]]
	# the waiter goes: the server takes callers again, and the calls that
	# were refused did nothing
	kill -KILL "$BG_PID"
	wait_until 20 mpevent info e
	run -1 mpevent is-set e
	run -66 mpvar get v
	run -66 mpqueue size q
	wait_until 10 bash -c '[ "$(redis-cli -s "$1" info clients | sed -n "s/^connected_clients:\([0-9]*\).*/\1/p")" = 1 ]' sh "$d/s"
}

# gjson NAME FIELD: a field of `mpspawn status NAME --json` (before the workers).
gjson() {
	mpspawn status "$1" --json | sed 's/,"workers":\[.*//' |
		sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" | tr -d '"'
}

# running NAME N: waits until group NAME and its N workers run.
running() {
	wait_until 30 bash -c "[ \"\$(mpspawn status $1 --json | grep -o '\"state\":\"running\"' | wc -l)\" = $(($2 + 1)) ]"
}

# stopped_group LEASE: group g of host a with that --lease, its front
# ($front) and supervisor ($keeper) stopped, so it renews nothing.
stopped_group() {
	start_bg env MP_HOST_ID=a mpspawn --lease "$1" --name g -- sleep 300
	front=$BG_PID
	running g 1
	keeper=$(gjson g supervisor)
	kill -STOP "$front" "$keeper"
}

@test "a group started on host a is seen from host b: ls has a HOST column, status and --json name the host" {
	start_bg env MP_HOST_ID=a mpspawn -j 2 --name g -- sleep 300
	running g 2
	run -0 env MP_HOST_ID=b mpspawn ls
	[[ ${lines[0]} == NAME*STATE*WAITERS*AGE*HOST*HOLDERS ]]
	[[ ${lines[1]} == g*"2/2 workers running"*" a "*"(on a)"* ]]
	run -0 env MP_HOST_ID=b mpspawn status g
	[[ $output == *"host:      a (id a)"* ]]
	[ "$(MP_HOST_ID=b gjson g host)" = a ]
	[ "$(MP_HOST_ID=b gjson g host_id)" = a ]
	MP_HOST_ID=b mpspawn kill g
}

@test "kill from another host ends the group within a second, and signals no pid of the record here" {
	start_bg env MP_HOST_ID=a mpspawn -j 2 --name g -- sleep 300
	group=$BG_PID
	running g 2
	# the record's supervisor pid becomes a bystander of this host: a pid
	# of another host's group must never be signalled from here
	start_bg sleep 300
	decoy=$BG_PID
	prefix=${MP_STORE##*prefix=}
	rcli hset "$prefix:{spawn:g}:m" keeper "$decoy 1 0" >/dev/null
	run -0 env MP_HOST_ID=b mpspawn kill g
	wait_until 5 dead "$group"
	wait "$group" && st=0 || st=$?
	[ "$st" = 143 ]
	alive "$decoy"
	[ "$(gjson g state)" = done ]
	[ "$(gjson g reason)" = signal ]
	# over: a second kill says so
	run -1 env MP_HOST_ID=b mpspawn kill g
	# a signal that does not end the group is passed on to the workers
	start_bg env MP_HOST_ID=a mpspawn -j 1 --name u -c 'trap "echo got-usr1 >>\"$T/usr1\"" USR1; while :; do sleep 0.1; done'
	running u 1
	run -0 env MP_HOST_ID=b mpspawn kill u --signal USR1
	wait_until 5 test -s "$T/usr1"
	[ "$(gjson u state)" = running ]
	MP_HOST_ID=b mpspawn kill u
}

@test "wait from another host returns the group's exit status" {
	# the group ends only once host b's wait is waiting: started before the
	# group is known, the wait would find no such group (66)
	start_bg env MP_HOST_ID=a mpspawn --name w -c 'until [ -e "$T/go" ]; do sleep 0.02; done; exit 7'
	running w 1
	run -75 env MP_HOST_ID=b mpspawn wait w -n
	start_bg bash -c 'until pgrep -f "^([^ ]*/)?mpspawn wait w -t 30" >/dev/null; do sleep 0.02; done
		touch "$T/go"'
	run -7 env MP_HOST_ID=b mpspawn wait w -t 30
	# and once over, the status stays: a later wait returns it at once
	run -7 env MP_HOST_ID=b mpspawn wait w -n
	run -124 env MP_HOST_ID=a mpspawn -j 1 --name w2 -t 0.2 -- sleep 5
	run -124 env MP_HOST_ID=b mpspawn wait w2
}

@test "a group whose host stopped renewing its lease is lost after it: status and ls say so, wait returns 137, the name is free again" {
	stopped_group 1s
	run -137 env MP_HOST_ID=b mpspawn wait g -t 30
	[ "$(MP_HOST_ID=b gjson g state)" = lost ]
	run -0 env MP_HOST_ID=b mpspawn status g
	[[ $output == *"its host stopped renewing"* ]]
	run -0 env MP_HOST_ID=b mpspawn ls
	[[ ${lines[1]} == g*"lost (no lease)"* ]]
	run -1 env MP_HOST_ID=b mpspawn is-alive g
	run -1 env MP_HOST_ID=b mpspawn kill g
	# the name is free: a group of host b takes it
	run -3 env MP_HOST_ID=b mpspawn --name g -c 'exit 3'
	[ "$(gjson g status)" = 3 ]
	# the old supervisor, back, never writes into the new group's record
	kill -CONT "$front" "$keeper"
	kill -TERM "$front"
	wait_until 10 dead "$front"
	[ "$(gjson g status)" = 3 ]
	[ "$(gjson g host)" = b ]
}

@test "a group killed with its supervisor on this host is lost at once here, and its name free, before its lease runs out" {
	stopped_group 60s
	# the supervisor first: a stopped process whose process group loses
	# its parent gets SIGHUP and SIGCONT, and would end the group itself
	kill -KILL "$keeper" "$front"
	wait_until 5 dead "$keeper"
	run -137 env MP_HOST_ID=a mpspawn wait g -t 5
	[ "$(MP_HOST_ID=a gjson g state)" = lost ]
	# on another host it is running until its lease says otherwise
	[ "$(MP_HOST_ID=b gjson g state)" = running ]
	run -0 env MP_HOST_ID=a mpspawn --name g true
}

@test "pools on two hosts drain one queue: each message once, a worker SIGKILLed mid-message loses nothing, both end at close" {
	mpqueue create jobs
	cmd='if [ "$1" = 50 ] && mkdir "$T/killed" 2>/dev/null; then kill -KILL $PPID; sleep 300; fi
		echo "$1 $MP_HOST_ID" >>"$T/done"'
	start_bg env MP_HOST_ID=a mpspawn -j 3 --restart on-failure --queue jobs --name pa -c "$cmd"
	pa=$BG_PID
	start_bg env MP_HOST_ID=b mpspawn -j 3 --restart on-failure --queue jobs --name pb -c "$cmd"
	pb=$BG_PID
	seq 200 | mpqueue put jobs
	wait_until 60 bash -c '[ "$(wc -l <"$T/done")" -ge 200 ]'
	mpqueue close jobs
	wait_until 30 dead "$pa"
	wait_until 30 dead "$pb"
	wait "$pa" && st=0 || st=$?
	[ "$st" = 0 ]
	wait "$pb" && st=0 || st=$?
	[ "$st" = 0 ]
	[ -d "$T/killed" ]
	[ "$(wc -l <"$T/done")" = 200 ]
	[ "$(cut -d' ' -f1 "$T/done" | sort -nu | wc -l)" = 200 ]
	[ "$(cut -d' ' -f1 "$T/done" | awk '{ s += $1 } END { print s }')" = 20100 ]
	[ $(( $(gjson pa messages) + $(gjson pb messages) )) -ge 200 ]
	[ "$(gjson pa host)" = a ]
	[ "$(gjson pb host)" = b ]
	run -0 mpqueue info jobs --json
	[[ $output == *'"unfinished":0'* ]]
}

@test "a pool's message whose command outlasts the lease stays its worker's: renewed, never delivered again" {
	mpqueue create slow
	seq 4 | mpqueue put slow
	mpqueue close slow
	run -0 mpspawn --lease 0.3s -j 2 --queue slow --name sp -c 'sleep 1.5; echo "$1" >>"$T/done"'
	[ "$(sort -n "$T/done" | tr '\n' ' ')" = "1 2 3 4 " ]
	run -0 mpqueue info slow --json
	[[ $output == *'"redelivered":0'* ]]
}

@test "a wrapper paused past its lease, whose lock another host took, ends its command and exits 69" {
	start_bg mplock --lease 0.5s run L sh -c 'echo $$ >"$1"; exec sleep 1000' sh "$BATS_TEST_TMPDIR/cmd"
	wrapper=$BG_PID
	wait_until 10 test -s "$BATS_TEST_TMPDIR/cmd"
	cmd=$(cat "$BATS_TEST_TMPDIR/cmd")
	kill -STOP "$wrapper" "$cmd"
	run -0 env MP_HOST_ID=elsewhere mplock -t 10 acquire L --owner none
	kill -CONT "$wrapper" "$cmd"
	wait_until 15 dead "$cmd"
	wait_until 15 dead "$wrapper"
	wait "$wrapper" 2>/dev/null && st=0 || st=$?
	[ "$st" = 69 ]
	# the other host's hold was not disturbed
	run -0 mplock release L --owner none
}

@test "--store beats MP_STORE, which beats MP_DIR" {
	MP_STORE="$MP_STORE" mplock create onredis
	run -66 env -u MP_STORE mplock info onredis
	run -0 mplock info onredis
	run -66 mplock --store "$MP_DIR" info onredis
	run -0 mplock --dir "$MP_DIR" --store "$MP_STORE" info onredis
}

@test "a key of another type under an object's name is bad data, 65, and rm clears it" {
	local prefix=${MP_STORE##*prefix=}
	rcli set "$prefix:{lock:planted}:m" hello >/dev/null
	run -65 --separate-stderr mplock info planted
	run -65 mplock -n run planted true
	run -0 --separate-stderr mplock rm planted
	[[ $stderr == *"removed a damaged object"* ]]
	[ "$(rcli exists "$prefix:{lock:planted}:m")" = 0 ]
}

@test "a holder on another host is not judged from this host's /proc: it goes when its lease runs out" {
	MP_HOST_ID=host-a start_bg mplock --lease 1.5s run L sleep 1000
	holder=$BG_PID
	wait_until 10 holders_are L 1
	kill -KILL "$holder"
	# host B cannot see host A's processes: the hold stays for its lease
	t0=$(date +%s%N)
	run -0 env MP_HOST_ID=host-b mplock -t 10 run L true
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	echo "host B waited $ms ms"
	[ "$ms" -ge 500 ]
	[ "$ms" -lt 5000 ]
}

@test "a live holder on another host is never taken from: its wrapper renews the lease" {
	MP_HOST_ID=host-a start_bg mplock --lease 0.5s run L sleep 1000
	wait_until 10 holders_are L 1
	# four leases long: the wrapper renewed it all along
	run -124 env MP_HOST_ID=host-b mplock -t 2 run L true
	run -0 mplock is-locked L
}

@test "a holder in another pid namespace of this host goes by its lease, not by /proc" {
	[ "$(id -u)" = 0 ] || skip "unshare needs root"
	command -v unshare >/dev/null || skip "no unshare"
	start_bg unshare -pf --mount-proc mplock --lease 1s run L sleep 1000
	ns=$BG_PID
	wait_until 10 holders_are L 1
	# the holder's pid means something else here: never reap by it
	run -75 mplock -n run L true
	kill -KILL "$ns"
	pkill -KILL -f "mplock --lease 1s run L sleep 1000" || true
	run -0 mplock -t 10 run L true
}

@test "acquire leaves a keeper that renews the lease while its owner lives and releases when it dies" {
	start_bg sleep 1000
	owner=$BG_PID
	mplock --lease 0.6s acquire L --owner "$owner"
	# three leases later the hold is still there: the keeper renewed it
	run -124 env MP_HOST_ID=elsewhere mplock -t 2 run L true
	kill "$owner"
	t0=$(date +%s%N)
	run -0 env MP_HOST_ID=elsewhere mplock -t 10 run L true
	t1=$(date +%s%N)
	echo "released $(((t1 - t0) / 1000000)) ms after the owner's death"
	[ $(((t1 - t0) / 1000000)) -lt 2000 ]
}

@test "a keeper killed with SIGKILL: the hold goes when its lease runs out, not before" {
	start_bg sleep 1000
	owner=$BG_PID
	mplock --lease 1.5s acquire K --owner "$owner"
	keeper=$(pgrep -f "mplock --lease 1.5s acquire K --owner $owner" | head -1)
	[ -n "$keeper" ]
	echo "$keeper" >>"$BG_PIDS"
	kill -KILL "$keeper"
	t0=$(date +%s%N)
	run -0 env MP_HOST_ID=elsewhere mplock -t 10 run K true
	t1=$(date +%s%N)
	echo "taken $(((t1 - t0) / 1000000)) ms after the keeper's death"
	[ $(((t1 - t0) / 1000000)) -ge 300 ]
}

@test "-n takes a lock whose holder on this host died, even before its keeper released it" {
	start_bg sleep 1000
	owner=$BG_PID
	mplock --lease 30s acquire N --owner "$owner"
	keeper=$(pgrep -f "mplock --lease 30s acquire N --owner $owner" | head -1)
	[ -n "$keeper" ]
	echo "$keeper" >>"$BG_PIDS"
	kill -STOP "$keeper"    # it cannot release: only the -n caller can see the death
	kill -KILL "$owner"
	wait_until 10 dead "$owner"
	run -0 mplock -n acquire N --owner none
	kill -CONT "$keeper"
}

@test "--owner none has no lease: it lasts until released" {
	mplock --lease 0.3s acquire L --owner none
	run -124 env MP_HOST_ID=elsewhere mplock -t 1 run L true
	run -0 mplock release L --owner none
	run -1 mplock is-locked L
}

@test "a wrapper that cannot renew its lease (server stopped) ends the command and exits 69" {
	start_bg mplock --lease 1s run L sh -c 'echo $$ >"$1"; exec sleep 1000' sh "$BATS_TEST_TMPDIR/cmd"
	wrapper=$BG_PID
	wait_until 10 test -s "$BATS_TEST_TMPDIR/cmd"
	cmd=$(cat "$BATS_TEST_TMPDIR/cmd")
	kill -STOP "$SERVER_PID"
	wait_until 15 dead "$cmd"
	wait_until 15 dead "$wrapper"
	kill -CONT "$SERVER_PID"
	wait "$wrapper" 2>/dev/null && st=0 || st=$?
	[ "$st" = 69 ]
}

@test "a command that ignores TERM after its wrapper lost the lease is killed 5 s later; the wrapper exits 69" {
	# the command notes each TERM and goes on; only KILL ends it
	start_bg mplock --lease 1s run L sh -c 'trap "echo term >>\"\$1\"" TERM; echo $$ >"$1.pid"
		while :; do sleep 0.1; done' sh "$T/cmd"
	wrapper=$BG_PID
	wait_until 10 test -s "$T/cmd.pid"
	cmd=$(cat "$T/cmd.pid")
	kill -STOP "$SERVER_PID"
	wait_until 15 file_has "$T/cmd" term
	t0=$(date +%s%N)
	# TERM did not end it: it is alive after the TERM ...
	alive "$cmd"
	wait_until 30 dead "$cmd"
	# ... until the KILL, about 5 s later (a lower bound only: a noisy
	# machine may be late, never early)
	[ $((($(date +%s%N) - t0) / 1000000)) -ge 4000 ]
	wait_until 15 dead "$wrapper"
	kill -CONT "$SERVER_PID"
	wait "$wrapper" 2>/dev/null && st=0 || st=$?
	[ "$st" = 69 ]
}

@test "a wait survives a server that stops for a while, and still honours -t" {
	mplock acquire L --owner none
	kill -STOP "$SERVER_PID"
	t0=$(date +%s%N)
	run -69 mplock -t 1 run L true
	t1=$(date +%s%N)
	kill -CONT "$SERVER_PID"
	# a call may wait for one reply at most 3 s past its -t
	[ $(((t1 - t0) / 1000000)) -lt 5500 ]
	start_bg mplock -t 20 run L touch "$BATS_TEST_TMPDIR/ran"
	wait_until 10 waiters_are L 1
	kill -STOP "$SERVER_PID"
	sleep 1
	kill -CONT "$SERVER_PID"
	mplock release L --owner none
	wait_until 15 test -e "$BATS_TEST_TMPDIR/ran"
}

@test "a call given -t awaits a stopped server's reply past 3 s, up to its deadline; a signal still ends it" {
	local w1 w2 st
	mpevent create go
	kill -STOP "$SERVER_PID"
	# both send their first request to the stopped server
	start_bg mpevent wait go -t 60
	w1=$BG_PID
	start_bg mpevent wait go -t 60
	w2=$BG_PID
	# the stop is the stimulus: past the 3 s a call without -t awaits a
	# reply, these are still waiting (before: 69, "no reply within 3 s")
	sleep 4.5
	alive "$w1"
	alive "$w2"
	run -69 --separate-stderr mpevent info go	# no -t: 3 s, then 69
	[[ $stderr == *"no reply within 3 s"* ]]
	kill -INT "$w2"
	wait_until 5 dead "$w2"
	wait "$w2" && st=0 || st=$?
	[ "$st" = 130 ]
	kill -CONT "$SERVER_PID"
	wait_until 20 bash -c '[ "$(mpevent info go --json | sed -n "s/.*\"waiters\":\([0-9]*\).*/\1/p")" = 1 ]'
	mpevent set go
	wait_until 10 dead "$w1"
	wait "$w1" && st=0 || st=$?
	[ "$st" = 0 ]
}

@test "fencing tokens grow across hosts" {
	MP_HOST_ID=a mplock run L sh -c 'echo $MP_LOCK_TOKEN' >"$BATS_TEST_TMPDIR/t"
	MP_HOST_ID=b mplock run L sh -c 'echo $MP_LOCK_TOKEN' >>"$BATS_TEST_TMPDIR/t"
	MP_HOST_ID=a mplock run L sh -c 'echo $MP_LOCK_TOKEN' >>"$BATS_TEST_TMPDIR/t"
	[ "$(tr '\n' ' ' <"$BATS_TEST_TMPDIR/t")" = "1 2 3 " ]
}

@test "a semaphore on two hosts never admits more than its slots" {
	local C="$BATS_TEST_TMPDIR/c" pids=() i
	mkdir "$C"
	for i in $(seq 12); do
		MP_HOST_ID="host-$((i % 2))" start_bg mpsem run S -j 2 -- sh -c '
			d=$1; mkdir "$d/in.$$"; n=$(ls "$d" | grep -c "^in\."); echo "$n" >>"$d/max"
			sleep 0.1; rmdir "$d/in.$$"; echo done >>"$d/done"' sh "$C"
		pids+=("$BG_PID")
	done
	wait_until 60 lines_are "$C/done" 12
	[ "$(sort -n "$C/max" | tail -1)" -le 2 ]
}

@test "1,000 waiters on one event all return after one set, and leave no connection behind" {
	local before after i
	before=$(rcli info clients | sed -n 's/^connected_clients:\([0-9]*\).*/\1/p')
	mpevent create go
	# each waiter's status goes to a file: a waiter that slept through
	# the set would still be waiting (-t 300) when the deadline below
	# (a ceiling for a slow, sanitized build, not a timing) runs out
	for i in $(seq 1000); do
		bash -c 'mpevent wait go -t 300; echo $? >>"$1"' sh "$BATS_TEST_TMPDIR/st" 3>&- &
		echo $! >>"$BG_PIDS"
	done
	wait_until 120 bash -c '[ "$(mpevent info go --json | sed -n "s/.*\"waiters\":\([0-9]*\).*/\1/p")" -ge 1000 ]'
	mpevent set go
	wait_until 180 bash -c '[ "$(wc -l <"$1")" -ge 1000 ]' sh "$BATS_TEST_TMPDIR/st"
	[ "$(sort -u "$BATS_TEST_TMPDIR/st")" = 0 ]	# every one woke by the set
	wait_until 10 bash -c "[ \"\$(redis-cli -s '$SOCK' info clients | sed -n 's/^connected_clients:\([0-9]*\).*/\1/p')\" -le $before ]"
}

@test "kill -9 torture on Redis: locks, reader/writer locks, semaphores, events, variables and queues keep their invariants" {
	local k
	# besides the harness's own kills of clients and wrappers: keepers
	# (the long-lived processes an acquire leaves) are SIGKILLed too
	# (only this test's: other suites may run beside it)
	start_bg bash -c 'while :; do
		for p in $(pgrep -f "^[^ ]*mp(lock|sem) acquire" | shuf); do
			tr "\0" "\n" 2>/dev/null <"/proc/$p/environ" | grep -qxF "MP_STORE=$2" || continue
			kill -KILL "$p" 2>/dev/null && echo "$p" >>"$1"
			break
		done
		sleep 0.05
	done' sh "$BATS_TEST_TMPDIR/keepers-killed" "$MP_STORE"
	local i=0
	# on a slow machine the killer may have caught no keeper in the six
	# runs: more lock runs (at most five) until it has
	for k in lock rwlock sem event var queue lock lock lock lock lock; do
		((++i <= 6)) || [ ! -s "$BATS_TEST_TMPDIR/keepers-killed" ] || break
		run "$MP_TOP_BUILDDIR/tests/torture/mptorture" --bin "$MP_TOP_BUILDDIR/src" \
			-t "${MP_TORTURE_SECONDS:-6}" --min-ops 20 --min-kills 5 -k "$k" --dir "$BATS_TEST_TMPDIR/t-$i"
		echo "$output" | tail -3
		[ "$status" -eq 0 ]
		[[ $output == *"violations 0"* ]]
	done
	touch "$BATS_TEST_TMPDIR/keepers-killed"
	echo "keepers and acquires killed: $(wc -l <"$BATS_TEST_TMPDIR/keepers-killed")"
	[ -s "$BATS_TEST_TMPDIR/keepers-killed" ]
}

@test "a server restarted without persistence mid-wait: the waiter says the lock is gone (66), no hang, no crash" {
	mplock acquire L --owner none
	start_bg mplock -t 30 run L true
	waiter=$BG_PID
	wait_until 10 waiters_are L 1
	restart_server
	wait_until 20 dead "$waiter"
	wait "$waiter" 2>/dev/null && st=0 || st=$?
	[ "$st" = 66 ]
}

# ---- queues ----

qfield() {
	mpqueue info "$1" --json | grep -o "\"$2\":[^,}]*" | head -n 1 | cut -d: -f2
}

field_is() {
	[ "$(qfield "$1" "$2")" = "$3" ]
}

@test "a queue's message leased by a getter SIGKILLed on this host comes back at once" {
	mpqueue put q m1 m2
	start_bg bash -c 'mpqueue get q --lease >"$1" && exec sleep 1000' sh "$BATS_TEST_TMPDIR/out"
	consumer=$BG_PID
	wait_until 10 file_has "$BATS_TEST_TMPDIR/out" m1
	run -0 qfield q in_flight
	[ "$output" = 1 ]
	kill -KILL "$consumer"
	wait_until 10 field_is q items 2
	run -0 mpqueue get q --all
	[ "$output" = $'m1\nm2' ]
	run -0 qfield q redelivered
	[ "$output" = 1 ]
}

@test "a queue's message leased on a host that stops renewing comes back when its lease runs out" {
	mpqueue put q m1
	start_bg sleep 1000
	owner=$BG_PID
	# "elsewhere": this host cannot judge its processes from /proc
	run -0 env MP_HOST_ID=elsewhere mpqueue get q --lease --owner "$owner"
	[ "$output" = m1 ]
	# the host goes away: its keeper dies with it
	for p in $(pgrep -f "mpqueue get q --lease --owner $owner"); do
		tr "\0" "\n" <"/proc/$p/environ" | grep -qxF "MP_STORE=$MP_STORE" && kill -KILL "$p"
	done
	# the owner lives on (it is on another host): not handed back before
	# its lease (10 s) runs out
	run -0 qfield q in_flight
	[ "$output" = 1 ]
	wait_until 30 field_is q items 1
	run -0 mpqueue get q
	[ "$output" = m1 ]
	run -0 qfield q redelivered
	[ "$output" = 1 ]
	kill "$owner"
}

@test "a queue's get --follow outlives a stopped server and a dropped connection: nothing acked that it did not write" {
	local d=$BATS_TEST_TMPDIR
	seq 1 500 | mpqueue put q
	start_bg bash -c 'exec mpqueue get q --follow >"$1"' sh "$d/out1"
	getter=$BG_PID
	wait_until 10 lines_are "$d/out1" 500
	kill -STOP "$SERVER_PID"
	sleep 4		# past the 3 s a reply may take: the getter sees no server
	kill -CONT "$SERVER_PID"
	seq 501 600 | mpqueue put q
	rcli client kill type pubsub >/dev/null
	seq 601 700 | mpqueue put q
	mpqueue close q
	wait_until 20 dead "$getter"
	# whatever the getter did not write is still there (or comes back)
	wait_until 15 field_is q in_flight 0
	mpqueue get q --all -n >"$d/out2" || true
	sort -n -u "$d/out1" "$d/out2" >"$d/all"
	[ "$(wc -l <"$d/all")" = 700 ]
	[ "$(sed -n '1p;$p' "$d/all" | tr '\n' ' ')" = "1 700 " ]
	# every ack is of a line written out
	[ "$(qfield q acks)" -le "$(cat "$d/out1" "$d/out2" | wc -l)" ]
}

@test "a server restarted without persistence under get --follow: the getter says the queue was removed (66), no hang" {
	mpqueue put q a
	start_bg bash -c 'exec mpqueue get q --follow >"$1" 2>"$2"' sh "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err"
	getter=$BG_PID
	wait_until 10 file_has "$BATS_TEST_TMPDIR/out" a
	wait_until 10 field_is q getters 1
	restart_server
	wait_until 20 dead "$getter"
	wait "$getter" 2>/dev/null && st=0 || st=$?
	[ "$st" = 66 ]
	grep -q "removed" "$BATS_TEST_TMPDIR/err"
}

@test "a server restarted with its append-only file keeps a queue's messages, leases and counts" {
	use_aof
	mpqueue create q --max-items 7
	mpqueue put q m1 m2 m3
	start_bg sleep 1000
	owner=$BG_PID
	run -0 mpqueue get q --lease --owner "$owner"
	[ "$output" = m1 ]
	run -0 mpqueue get q
	[ "$output" = m2 ]
	mpqueue task-done q
	restart_server --aof
	field_is q items 1
	field_is q in_flight 1
	field_is q max_items 7
	field_is q puts 3
	field_is q acks 1
	field_is q unfinished 2
	# the lease is still its owner's: ack it
	run -0 mpqueue ack q --owner "$owner"
	run -0 mpqueue get q -n
	[ "$output" = m3 ]
	rcli config set appendonly no >/dev/null
}

@test "a leased message whose owner died while the server was down comes back once it is up again" {
	use_aof
	mpqueue put q m1 m2
	start_bg sleep 1000
	owner=$BG_PID
	run -0 mpqueue get q --lease --owner "$owner"
	[ "$output" = m1 ]
	kill -KILL "$SERVER_PID"
	kill "$owner"
	wait_until 10 dead "$owner"
	restart_server --aof
	run -0 mpqueue get q --count 2 -t 30
	[ "$output" = $'m1\nm2' ]
	field_is q redelivered 1
	field_is q in_flight 0
	rcli config set appendonly no >/dev/null
}

@test "a message leased on another host whose owner died while the server was down comes back when its lease has run out" {
	use_aof
	leased_on_host_b 1s
	kill -KILL "$SERVER_PID"
	kill "$owner"
	wait_until 10 dead "$owner"
	restart_server --aof
	# this host cannot see host B's processes: only the lease tells
	run -0 env MP_HOST_ID=host-a mpqueue get q -t 30
	[ "$output" = m1 ]
	field_is q redelivered 1
	rcli config set appendonly no >/dev/null
}

@test "get --follow across a server restarted with its append-only file neither loses nor doubles a message" {
	local d=$BATS_TEST_TMPDIR
	use_aof
	start_bg bash -c 'exec mpqueue get q --follow >"$1"' sh "$d/out"
	getter=$BG_PID
	seq 1 300 | mpqueue put q
	wait_until 10 lines_are "$d/out" 300
	restart_server --aof
	seq 301 600 | mpqueue put q --close
	wait_until 30 dead "$getter"
	wait "$getter" && st=0 || st=$?
	[ "$st" = 0 ]
	[ "$(wc -l <"$d/out")" = 600 ]
	[ "$(sort -n -u "$d/out" | wc -l)" = 600 ]
	[ "$(sed -n '1p;$p' "$d/out" | tr '\n' ' ')" = "1 600 " ]
	field_is q acks 600
	field_is q in_flight 0
	rcli config set appendonly no >/dev/null
}

@test "a server restarted without persistence: size, info and -e say the queue is gone (66); get and put start a new one" {
	mpqueue create q --max-items 7
	mpqueue put q a
	restart_server
	run -66 --separate-stderr mpqueue size q
	[[ $stderr == *"no queue named 'q'"*"without persistence"* ]]
	run -66 mpqueue info q
	run -66 mpqueue is-empty q
	run -66 mpqueue -e put q b
	run -66 mpqueue -e get q -n
	run -66 env MP_EXISTING=1 mpqueue get q -n
	# a process that cannot know the queue existed makes a new, empty one
	run -75 mpqueue get q -n
	field_is q max_items 16384
}

@test "a stream put across a server restarted without persistence says the queue is gone (66)" {
	local d=$BATS_TEST_TMPDIR
	mkfifo "$d/in"
	start_bg bash -c 'exec mpqueue put q <"$1" 2>"$2"' sh "$d/in" "$d/err"
	putter=$BG_PID
	exec 5>"$d/in"
	echo one >&5
	wait_until 10 field_is q items 1
	restart_server
	echo two >&5
	exec 5>&-
	wait_until 20 dead "$putter"
	wait "$putter" && st=0 || st=$?
	[ "$st" = 66 ]
	grep -q "removed" "$d/err"
}

# the keeper a get --lease left (it has the get's command line), this
# suite's only: other suites may run beside it
queue_keeper() {
	local p
	for p in $(pgrep -f "$1"); do
		tr "\0" "\n" 2>/dev/null <"/proc/$p/environ" | grep -qxF "MP_STORE=$MP_STORE" && echo "$p"
	done | head -n 1
}

# leased_on_host_b LEASE: m1, leased on host-b to a sleeping $owner
leased_on_host_b() {
	mpqueue put q m1
	start_bg sleep 1000
	owner=$BG_PID
	run -0 env MP_HOST_ID=host-b mpqueue --lease "$1" get q --lease --owner "$owner"
	[ "$output" = m1 ]
}

@test "mpqueue --lease 2s: a leased message of a host whose keeper is stopped comes back after its lease, not the default 10s" {
	leased_on_host_b 2s
	keeper=$(queue_keeper "mpqueue --lease 2s get q --lease --owner $owner")
	[ -n "$keeper" ]
	echo "$keeper" >>"$BG_PIDS"
	kill -STOP "$keeper"
	# 8 s: well past the 2 s lease, well before the default 10 s one
	run -0 env MP_HOST_ID=host-a mpqueue get q -t 8
	[ "$output" = m1 ]
	field_is q redelivered 1
	kill -CONT "$keeper"
	# the lease is gone: its ack says so, and the keeper ends
	run -1 env MP_HOST_ID=host-b mpqueue ack q --owner "$owner"
	wait_until 10 dead "$keeper"
}

@test "mpqueue --lease 1s: a live getter's keeper renews its lease and another host never gets the message" {
	leased_on_host_b 1s
	# three leases long
	run -124 env MP_HOST_ID=host-a mpqueue get q -t 3
	field_is q in_flight 1
	run -0 env MP_HOST_ID=host-b mpqueue ack q --owner "$owner"
	field_is q acks 1
	field_is q redelivered 0
}

@test "mpqueue --lease 1s: a get blocked writing into a full pipe renews its batch; another host gets none of it" {
	local d=$BATS_TEST_TMPDIR big
	big=$(head -c 40000 /dev/zero | tr '\0' x)
	mpqueue put q "$big" "$big" "$big"
	mkfifo "$d/go"
	# 120 KB into a 64 KB pipe whose reader waits for "go"
	start_bg bash -c 'MP_HOST_ID=host-b mpqueue --lease 1s get q --count 3 |
		{ cat "$2" >/dev/null; wc -c >"$1"; }' sh "$d/n" "$d/go"
	wait_until 10 field_is q in_flight 3
	run -124 env MP_HOST_ID=host-a mpqueue get q -t 3
	field_is q in_flight 3
	echo go >"$d/go"
	wait_until 10 test -s "$d/n"
	[ "$(cat "$d/n")" = 120003 ]
	wait_until 10 field_is q acks 3
	field_is q redelivered 0
}

# commands: how many commands the server has processed (INFO counts its
# own call too).
commands() {
	rcli info stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'
}

@test "a stream of 10,000 messages takes a few hundred calls to the server, not one per message, and loses none" {
	local c0 c1
	c0=$(commands)
	seq 10000 | mpqueue put q --close
	seq 10000 | cksum >"$T/want"
	mpqueue get q --follow | cksum >"$T/got"
	c1=$(commands)
	cmp "$T/want" "$T/got"
	echo "$((c1 - c0)) commands for 10,000 messages put and got"
	[ $((c1 - c0)) -lt 500 ]
}

# evals: how many scripts the server has run.
evals() {
	rcli info commandstats | sed -n 's/^cmdstat_eval:calls=\([0-9]*\),.*/\1/p'
}

# evals_in_3s: how many scripts the server ran in 3 s.  A window to count
# in, not a wait for a state: the bounds below only catch a poll.
evals_in_3s() {
	local e0
	e0=$(evals)
	sleep 3
	echo $(($(evals) - e0))
}

@test "a get waiting on an empty queue and a wait on an event do not poll: they only renew their place each second" {
	local n
	# mptools(7): woken by the server's message; once a second a waiter
	# renews its place (a queue's getter also looks again), so 3 s hold
	# at most 4 renewals: 8 scripts for a getter, 4 for an event waiter.
	# A poll every 200 ms would be 15 or more.
	start_bg mpqueue get q
	getter=$BG_PID
	wait_until 20 bash -c '[ "$(mpqueue info q --json | sed -n "s/.*\"waiters\":\([0-9]*\).*/\1/p")" = 1 ]'
	n=$(evals_in_3s)
	echo "getter: $n scripts in 3 s"
	[ "$n" -le 8 ]
	mpqueue put q m
	wait_until 10 dead "$getter"
	start_bg mpevent wait e
	wait_until 20 bash -c '[ "$(mpevent info e --json | sed -n "s/.*\"waiters\":\([0-9]*\).*/\1/p")" = 1 ]'
	n=$(evals_in_3s)
	echo "event waiter: $n scripts in 3 s"
	[ "$n" -le 4 ]
	mpevent set e
	wait_until 10 dead "$BG_PID"
}

@test "queue torture on Redis: 16 producers and 16 consumers on two hosts under SIGKILLs deliver every message put exactly once" {
	run "$MP_TOP_BUILDDIR/tests/torture/mptorture" --bin "$MP_TOP_BUILDDIR/src" \
		-t "${MP_TORTURE_SECONDS:-6}" --min-ops 20 --min-kills 5 -j 32 -k queue --dir "$BATS_TEST_TMPDIR/t"
	echo "$output" | tail -4
	[ "$status" -eq 0 ]
	[[ $output == *"violations 0"* ]]
	# the queue's own counts: as many acknowledged as put, all delivered
	[[ $output == *"exactly once: "*"(put with exit 0) = "* ]]
}
