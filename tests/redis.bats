#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Redis store (DESIGN §7): what only a store shared by several hosts
# has — URLs, logins, hosts, leases, keepers, a server that stops.  Run by
# tests/redis.redis on a redis-server of its own (tests/with-redis); every
# test skips on the local store.
load helpers/common

setup() {
	mp_common_setup
	redis_store_only
	SOCK=${MP_TEST_STORE#unix://}
	SERVER_PID=$(cat "$(dirname "$SOCK")/pid")
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

@test "queues and process groups are not kept in Redis stores yet: every verb says so with 69" {
	local v
	for v in "put q a" "get q -n" "info q" "ls" "rm q" "size q" "create q"; do
		run -69 --separate-stderr mpqueue $v
		[[ $stderr == *"not kept in redis stores yet"* ]]
	done
	for v in "ls" "status g" "rm g" "wait g"; do
		run -69 --separate-stderr mpspawn $v
		[[ $stderr == *"not kept in redis stores yet"* ]]
	done
	run -69 --separate-stderr mpspawn -- true
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
	for i in $(seq 1000); do
		mpevent wait go -t 60 3>&- &
		echo $! >>"$BG_PIDS"
	done
	wait_until 60 bash -c '[ "$(mpevent info go --json | sed -n "s/.*\"waiters\":\([0-9]*\).*/\1/p")" -ge 1000 ]'
	mpevent set go
	wait_until 30 none_alive "$BG_PIDS"
	wait_until 10 bash -c "[ \"\$(redis-cli -s '$SOCK' info clients | sed -n 's/^connected_clients:\([0-9]*\).*/\1/p')\" -le $before ]"
}

@test "kill -9 torture on Redis: locks, reader/writer locks, semaphores, events and variables keep their invariants" {
	local k
	# besides the harness's own kills of clients and wrappers: keepers
	# (the long-lived processes an acquire leaves) are SIGKILLed too
	# (only this test's: other suites may run beside it)
	start_bg bash -c 'while :; do
		for p in $(pgrep -f "^[^ ]*mp(lock|sem) acquire" | shuf); do
			tr "\0" "\n" <"/proc/$p/environ" 2>/dev/null | grep -qxF "MP_STORE=$2" || continue
			kill -KILL "$p" 2>/dev/null && echo "$p" >>"$1"
			break
		done
		sleep 0.05
	done' sh "$BATS_TEST_TMPDIR/keepers-killed" "$MP_STORE"
	for k in lock rwlock sem event var; do
		run "$MP_TOP_BUILDDIR/tests/torture/mptorture" --bin "$MP_TOP_BUILDDIR/src" \
			-t "${MP_TORTURE_SECONDS:-6}" -k "$k" --dir "$BATS_TEST_TMPDIR/t-$k"
		echo "$output" | tail -3
		[ "$status" -eq 0 ]
		[[ $output == *"violations 0"* ]]
	done
	echo "keepers and acquires killed: $(wc -l <"$BATS_TEST_TMPDIR/keepers-killed")"
	[ -s "$BATS_TEST_TMPDIR/keepers-killed" ]
}

@test "a server restarted without persistence mid-wait: the waiter says the lock is gone (66), no hang, no crash" {
	local dir
	dir=$(dirname "$SOCK")
	mplock acquire L --owner none
	start_bg mplock -t 30 run L true
	waiter=$BG_PID
	wait_until 10 waiters_are L 1
	kill -TERM "$SERVER_PID"
	wait_until 10 test ! -S "$SOCK"
	# (fd 3 closed: a server that keeps bats' descriptor would hold the run)
	"${MP_TEST_REDIS_SERVER:-redis-server}" --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --save '' --appendonly no \
		--daemonize yes --pidfile "$dir/pid" --logfile "$dir/log" --dir "$dir" \
		--maxclients 4000 >/dev/null 3>&-
	wait_until 10 test -S "$SOCK"
	SERVER_PID=$(cat "$dir/pid")
	wait_until 20 dead "$waiter"
	wait "$waiter" 2>/dev/null && st=0 || st=$?
	[ "$st" = 66 ]
}
