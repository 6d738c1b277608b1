#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mpspawn: worker groups, exit statuses, supervision (no orphans, no
# zombies), --tag, --daemon, pools, the status table and its verbs.
load helpers/common

setup() {
	mp_common_setup
	T=$BATS_TEST_TMPDIR
	export P=$T/pids
	: >"$P"
}

teardown() {
	mp_common_teardown
	if [ -n "${SMALL:-}" ] && mountpoint -q "$SMALL"; then
		umount "$SMALL"
	fi
	# whatever a failed test left running ($P and $P.gc hold pids only)
	local p
	for p in $(cat "$P" "$P.gc" 2>/dev/null); do
		[ "$p" -gt 1 ] 2>/dev/null && kill -KILL "$p" 2>/dev/null
	done
	return 0
}

# lines FILE N: FILE has at least N lines.
lines() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# all_dead FILE: every pid listed in FILE is gone (or a zombie).
all_dead() {
	local p
	for p in $(cat "$1"); do
		alive "$p" && return 1
	done
	return 0
}

# gfield NAME FIELD: a field of the group from status --json (before the
# worker list).
gfield() {
	mpspawn status "$1" --json | sed 's/,"workers":\[.*//' |
		sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" | tr -d '"'
}

# wfield NAME ID FIELD: a field of worker ID.
wfield() {
	mpspawn status "$1" --json | grep -o "{\"id\":$2,[^}]*}" |
		sed -n "s/.*\"$3\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" | tr -d '"'
}

# parent_is PID PPID: the parent of PID is PPID.
parent_is() {
	[ "$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$1/stat" 2>/dev/null)" = "$2" ]
}

# pstate_is PID S: the state letter of PID (from /proc/PID/stat) is S.
pstate_is() {
	[ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" = "$2" ]
}

pstate_not() {
	! pstate_is "$@"
}

# beaten NAME ID: worker ID of group NAME has called beat.
beaten() {
	[ "$(wfield "$1" "$2" last_beat_ms_ago)" != null ]
}

gstate_is() {
	[ "$(gfield "$1" state)" = "$2" ]
}

wstate_is() {
	[ "$(wfield "$1" "$2" state)" = "$3" ]
}

# ---- starting and joining ----

@test "mpspawn -j 4 -- sleep 1 runs the workers in parallel: about 1 s, not 4" {
	local t0 t1
	t0=$(date +%s%N)
	run -0 mpspawn -j 4 -- sleep 1
	t1=$(date +%s%N)
	echo "took $(((t1 - t0) / 1000000)) ms"
	[ $(((t1 - t0) / 1000000)) -lt 3000 ]
}

@test "each worker gets MP_WORKER_ID 0..N-1, MP_WORKERS and MP_SPAWN_NAME" {
	run -0 mpspawn -j 5 --name env -- sh -c 'echo "$MP_WORKER_ID/$MP_WORKERS/$MP_SPAWN_NAME"'
	[ "$(echo "$output" | sort)" = "$(printf '%s/5/env\n' 0 1 2 3 4)" ]
}

@test "the command keeps its own options after its first word, and -- starts it" {
	run -0 mpspawn -j 1 echo -n hi
	[ "$output" = hi ]
	run -0 mpspawn -j 1 -- echo -n hi
	[ "$output" = hi ]
	# a command named like a verb, after --
	run -0 mpspawn -- kill -0 $$
}

@test "-c STRING runs with /bin/sh -c" {
	run -0 mpspawn -j 2 -c 'echo "a $MP_WORKER_ID"; echo b' --tag
	[ "$(echo "$output" | sort)" = "$(printf '[0] a 0\n[0] b\n[1] a 1\n[1] b')" ]
}

@test "the exit status is 0 when every worker exits 0" {
	run -0 mpspawn -j 3 -- true
	run -0 mpspawn -j 3 -c 'exit 0'
}

@test "the exit status is that of the first worker to fail" {
	# worker 1 fails with 3 at once; worker 0 fails with 5 only once the
	# status table shows worker 1's end
	run -3 mpspawn -j 2 --name first -c '
		if [ "$MP_WORKER_ID" = 1 ]; then exit 3; fi
		until mpspawn status first --json | grep -q "{\"id\":1,[^}]*\"status\":3"; do
			sleep 0.02
		done
		exit 5'
	[ "$(wfield first 0 status)" = 5 ]
	[ "$(wfield first 1 status)" = 3 ]
	[ "$(gfield first status)" = 3 ]
}

@test "a worker killed by signal N makes the exit status 128+N" {
	run -143 mpspawn -j 1 -c 'kill -TERM $$'
	run -137 mpspawn -j 3 --name sig -c '[ "$MP_WORKER_ID" = 1 ] && kill -KILL $$; exit 0'
	[ "$(wfield sig 1 state)" = killed ]
	[ "$(wfield sig 1 status)" = 137 ]
	[ "$(wfield sig 0 status)" = 0 ]
}

@test "a command that cannot be found exits 127, one that cannot run 126, and nothing starts" {
	run -127 --separate-stderr mpspawn -j 3 no-such-command-xyz
	[[ $stderr == *"command not found"* ]]
	: >"$T/notexec"
	run -126 mpspawn -j 2 "$T/notexec"
	run -126 mpspawn "$T"
	run -0 mpspawn ls
	[ -z "$output" ]
	# in sh -c, the shell itself reports it
	run -127 mpspawn -c 'no-such-command-xyz'
}

@test "without --fail-fast a failure lets the other workers finish" {
	run -7 mpspawn -j 2 -c '[ "$MP_WORKER_ID" = 0 ] && exit 7; sleep 0.3; echo finished'
	[[ $output == *finished* ]]
}

@test "--fail-fast ends the other workers when one fails, with the failure's status" {
	run -7 timeout 60 mpspawn -j 3 --fail-fast --name ff -c '
		[ "$MP_WORKER_ID" = 0 ] && exit 7
		echo $$ >>"$P"; exec sleep 300'
	[ "$(wfield ff 1 status)" = 143 ]
	[ "$(wfield ff 2 status)" = 143 ]
	[ "$(gfield ff reason)" = "failed (--fail-fast)" ]
	all_dead "$P"
}

@test "--timeout sends SIGTERM when the time is up and exits 124" {
	run -124 timeout 60 mpspawn -j 2 -t 0.3 --name to -- sleep 300
	[ "$(wfield to 0 status)" = 143 ]
	[ "$(gfield to reason)" = "timed out" ]
	# --signal chooses the signal
	run -124 timeout 60 mpspawn -j 1 -t 0.2 --signal INT --name to2 -- sleep 300
	[ "$(wfield to2 0 status)" = 130 ]
}

@test "--kill-after sends SIGKILL to a worker that ignores the ending signal" {
	run -124 timeout 60 mpspawn -j 1 -t 0.2 -k 0.3 --name ka -c 'trap "" TERM; sleep 300'
	[ "$(wfield ka 0 status)" = 137 ]
}

@test "--restart on-failure restarts a failing worker until it succeeds" {
	run -0 mpspawn -j 2 --restart on-failure --name rs -c '
		f=$P.$MP_WORKER_ID; n=$(cat "$f" 2>/dev/null || echo 0)
		echo $((n + 1)) >"$f"; [ "$n" -ge 2 ]'
	[ "$(wfield rs 0 restarts)" = 2 ]
	[ "$(wfield rs 1 restarts)" = 2 ]
	[ "$(wfield rs 0 status)" = 0 ]
}

@test "--max-restarts N gives up after N restarts with the last failure" {
	run -4 mpspawn -j 1 --restart on-failure --max-restarts 2 --name mr -c 'echo x >>"$P.runs"; exit 4'
	[ "$(wc -l <"$P.runs")" = 3 ]
	[ "$(wfield mr 0 restarts)" = 2 ]
	[ "$(wfield mr 0 status)" = 4 ]
	run -64 mpspawn --max-restarts 2 true
}

# ---- signals, orphans, zombies ----

@test "SIGTERM to mpspawn ends the workers and exits 143; SIGINT exits 130" {
	start_bg mpspawn -j 2 --name term -c 'echo $$ >>"$P"; exec sleep 300'
	local m=$BG_PID st=0
	wait_until 10 lines "$P" 2
	kill -TERM "$m"
	wait "$m" || st=$?
	[ "$st" = 143 ]
	all_dead "$P"
	[ "$(wfield term 0 status)" = 143 ]

	: >"$P"
	start_bg mpspawn -j 2 -c 'echo $$ >>"$P"; exec sleep 300'
	m=$BG_PID st=0
	wait_until 10 lines "$P" 2
	kill -INT "$m"
	wait "$m" || st=$?
	[ "$st" = 130 ]
	all_dead "$P"
}

@test "a second SIGTERM to mpspawn sends SIGKILL at once to workers that ignore the first" {
	start_bg mpspawn -j 1 -k 1h --name tt -c 'trap "" TERM; echo $$ >>"$P"; while :; do sleep 0.05; done'
	local m=$BG_PID st=0
	wait_until 10 lines "$P" 1
	kill -TERM "$m"
	wait_until 5 gstate_is tt stopping
	alive "$(cat "$P")"
	kill -TERM "$m"
	wait "$m" || st=$?
	[ "$st" = 143 ]
	[ "$(wfield tt 0 status)" = 137 ]
}

@test "SIGTSTP to mpspawn stops the workers, SIGCONT resumes them" {
	start_bg mpspawn -j 2 --name ts -c 'echo $$ >>"$P"; while :; do sleep 0.05; done'
	local m=$BG_PID p
	wait_until 10 lines "$P" 2
	kill -TSTP "$m"
	for p in $(cat "$P"); do
		wait_until 5 pstate_is "$p" T
	done
	kill -CONT "$m"
	for p in $(cat "$P"); do
		wait_until 5 pstate_not "$p" T
	done
	run -0 mpspawn is-alive ts
}

@test "workers, their children and setsid'd grandchildren are gone after mpspawn is SIGKILLed" {
	start_bg mpspawn -j 2 --name k9 -c '
		sleep 300 & echo $! >>"$P"
		setsid sleep 301 & echo $! >>"$P"
		echo $$ >>"$P"; wait'
	wait_until 10 lines "$P" 6
	kill -KILL "$BG_PID"
	wait_until 5 all_dead "$P"
	wait_until 5 gstate_is k9 done
	[ "$(gfield k9 reason)" = "mpspawn killed" ]
	run -137 mpspawn wait k9
}

@test "when the supervisor process is SIGKILLed, the workers and their children go too" {
	start_bg mpspawn -j 2 --name kk -c 'sleep 300 & echo $! >>"$P"; echo $$ >>"$P"; wait'
	local m=$BG_PID st=0
	wait_until 10 lines "$P" 4
	kill -KILL "$(gfield kk supervisor)"
	wait "$m" || st=$?
	[ "$st" = 137 ]
	all_dead "$P"
	[ "$(gfield kk reason)" = "supervisor killed" ]
}

@test "no zombie remains after a worker double-forks: mpspawn adopts and reaps the orphan" {
	start_bg mpspawn -j 1 --name dz -c '
		(sh -c "echo \$\$ >\"\$P.gc\"; exec sleep 300" &)
		until [ -e "$P.go" ]; do sleep 0.02; done
		kill "$(cat "$P.gc")"
		until [ -e "$P.end" ]; do sleep 0.02; done'
	wait_until 10 test -s "$P.gc"
	local gc
	gc=$(cat "$P.gc")
	# orphaned by the subshell, adopted by the supervisor
	wait_until 5 parent_is "$gc" "$(gfield dz supervisor)"
	touch "$P.go"
	# killed by the worker, reaped: not even a zombie is left
	wait_until 5 test ! -e "/proc/$gc"
	touch "$P.end"
	wait "$BG_PID"
}

@test "what a worker leaves running is ended when the group ends" {
	run -0 timeout 60 mpspawn -j 2 -c '
		sleep 300 & echo $! >>"$P"
		(setsid sh -c "echo \$\$ >>\"\$P\"; exec sleep 301" &)
		until [ "$(wc -l <"$P")" -ge $((2 * MP_WORKER_ID + 2)) ]; do sleep 0.02; done'
	lines "$P" 4
	all_dead "$P"
}

# ---- --daemon ----

@test "--daemon returns at once printing the name; the workers end soon after the calling shell exits" {
	run -0 timeout 30 bash -c '
		mpspawn --daemon -j 2 --name dm -c "echo \$\$ >>\"\$P\"; exec sleep 300" >"$P.name"
		until [ "$(wc -l <"$P")" -ge 2 ]; do sleep 0.02; done
		mpspawn is-alive dm'
	[ "$(cat "$P.name")" = dm ]
	wait_until 5 all_dead "$P"
	wait_until 5 gstate_is dm done
	[ "$(gfield dm reason)" = "caller exited" ]
	run -143 mpspawn wait dm
}

@test "--daemon inside \$(...) does not make the substitution wait for the workers" {
	run -0 --separate-stderr timeout 20 bash -c '
		name=$(mpspawn --daemon -j 1 -c "echo \$\$ >>\"\$P\"; echo noise; exec sleep 300")
		echo "$name"
		until [ -s "$P" ]; do sleep 0.02; done
		mpspawn is-alive "$name"'
	[[ $output == spawn-* ]]
	wait_until 5 all_dead "$P"
	run -143 mpspawn wait "$output"
}

@test "--daemon --owner PID ends the workers when PID exits; --owner none only on kill" {
	start_bg sleep 300
	local owner=$BG_PID
	run -0 mpspawn --daemon --owner "$owner" --name own -c 'echo $$ >>"$P"; exec sleep 300'
	wait_until 10 lines "$P" 1
	run -0 mpspawn is-alive own
	kill "$owner"
	wait_until 5 all_dead "$P"

	: >"$P"
	run -0 bash -c 'mpspawn --daemon --owner none --name free -c "echo \$\$ >>\"\$P\"; exec sleep 300"'
	wait_until 10 lines "$P" 1
	run -0 mpspawn is-alive free
	mpspawn kill free
	run -143 mpspawn wait free -t 10
	all_dead "$P"
	run -66 mpspawn --daemon --owner 999999999 true
	run -64 mpspawn --owner none true
}

# ---- --tag ----

@test "--tag: 4 workers printing 1,000 lines each, every line whole and prefixed" {
	# awk writes to a pipe in 4 KiB blocks, cutting lines anywhere
	run -0 --separate-stderr mpspawn -j 4 --tag -- awk -v id="" 'BEGIN {
		id = ENVIRON["MP_WORKER_ID"]
		for (i = 0; i < 1000; i++)
			printf "worker %d line %d %s\n", id, i, "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"
	}'
	[ "$(echo "$output" | wc -l)" = 4000 ]
	echo "$output" | awk '
		!/^\[[0-3]\] worker [0-3] line [0-9]+ abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz$/ { print "bad: " $0; bad = 1 }
		{ id = substr($1, 2, 1); if ($3 != id || $5 != next_[id] + 0) { print "out of order: " $0; bad = 1 } next_[id]++ }
		END { for (i = 0; i < 4; i++) if (next_[i] != 1000) { print "worker " i ": " next_[i]; bad = 1 } exit bad }'
}

@test "--tag keeps stderr on stderr, prefixed too, and ends an unfinished last line" {
	run -0 --separate-stderr mpspawn -j 1 --tag -c 'echo out; echo err >&2; printf partial'
	[ "$output" = $'[0] out\n[0] partial' ]
	[ "$stderr" = "[0] err" ]
}

@test "without --tag the workers write to mpspawn's own stdout and stderr" {
	run -0 --separate-stderr mpspawn -j 1 -c 'echo out; echo err >&2'
	[ "$output" = out ]
	[ "$stderr" = err ]
}

# ---- the status table and its verbs ----

@test "status shows per worker pid, state, start, runtime, restarts and exit status" {
	start_bg mpspawn -j 2 --name st -c 'echo $$ >>"$P"; [ "$MP_WORKER_ID" = 0 ] && exit 2; exec sleep 300'
	wait_until 10 lines "$P" 2
	wait_until 5 wstate_is st 0 exited
	run -0 mpspawn status st
	[[ $output == *"name:      st"* ]]
	[[ $output == *"state:     running, 1 of 2 workers running"* ]]
	[[ $output == *"ID    PID      STATE"*"RESTARTS STATUS"* ]]
	[[ $output == *" exited "* ]]
	[[ $output == *" running "* ]]
	run -0 mpspawn status st --json
	[[ $output == *'"state":"running"'* ]]
	[[ $output == *'"nworkers":2'* ]]
	[[ $output == *'{"id":0,"pid":'*'"state":"exited","started":"'*'"runtime_ms":'*'"restarts":0,"status":2,'* ]]
	[[ $output == *'{"id":1,"pid":'*'"state":"running"'*'"status":null'* ]]
	[ "$(wfield st 1 pid)" = "$(sed -n 2p "$P")" ] || [ "$(wfield st 1 pid)" = "$(sed -n 1p "$P")" ]
	run -0 mpspawn info st
	mpspawn kill st
	# ended by a signal: 128 + that signal
	run -143 mpspawn wait st
}

@test "ls lists the groups, and an unnamed group leaves no record when it ends" {
	run -0 mpspawn -j 1 true
	run -0 mpspawn ls
	[ -z "$output" ]
	mpspawn -j 2 --name a true
	start_bg mpspawn -j 1 --name b -- sleep 300
	wait_until 10 wstate_is b 0 running
	run -0 mpspawn ls
	[[ ${lines[1]} == "a "*"done, exit 0"* ]]
	[[ ${lines[2]} == "b "*"1/1 workers running"* ]]
	run -0 mpspawn ls --json
	[[ $output == '[{"name":"a","kind":"spawn",'*'"state":"done",'*'{"name":"b","kind":"spawn",'*'"state":"running",'* ]]
}

@test "an unnamed group whose default name spawn-PID is taken (a recycled pid) gets a number" {
	run -0 bash -c 'mpspawn --daemon --owner none --name "spawn-$$" -c "echo \$\$ >>\"\$P\"; exec sleep 300" >/dev/null
		exec mpspawn -c "echo \$MP_SPAWN_NAME"'
	[[ $output == spawn-*.2 ]]
	mpspawn kill "${output%.2}"
}

@test "wait NAME waits until the group ends and exits with its status" {
	start_bg mpspawn -j 2 --name w -c 'until [ -e "$P.go" ]; do sleep 0.02; done; exit 6'
	wait_until 10 wstate_is w 1 running
	run -75 mpspawn wait w --nonblock
	run -75 mpspawn wait w -n	# -n is --nonblock here as in every tool
	run -124 mpspawn wait w -t 0.2
	run -9 mpspawn wait w -t 0.1 -E 9
	touch "$P.go"
	run -6 mpspawn wait w -t 20
	run -6 mpspawn wait w
}

@test "wait interrupted by SIGTERM exits 143" {
	start_bg mpspawn -j 1 --name wi -- sleep 300
	wait_until 10 wstate_is wi 0 running
	start_bg mpspawn wait wi
	local w=$BG_PID st=0
	sleep 0.1
	kill -TERM "$w"
	wait "$w" || st=$?
	[ "$st" = 143 ]
}

@test "kill NAME ends the group with SIGTERM; kill --signal SIG sends another signal" {
	start_bg mpspawn -j 2 --name kl --restart on-failure -c '
		trap "echo usr1 >>\"\$P.usr1\"" USR1
		echo $$ >>"$P"
		while :; do sleep 0.05; done'
	wait_until 10 lines "$P" 2
	run -0 mpspawn kill kl --signal USR1
	wait_until 5 lines "$P.usr1" 2
	run -0 mpspawn is-alive kl
	run -0 mpspawn kill kl
	# a group ended by kill is not restarted
	run -143 mpspawn wait kl -t 20
	all_dead "$P"
	[ "$(wfield kl 0 restarts)" = 0 ]
	run -1 --separate-stderr mpspawn kill kl
	[[ $stderr == *"not running"* ]]
	run -64 mpspawn kill kl --signal NOSUCHSIG
}

@test "is-alive exits 0 while the group runs and 1 once it has ended" {
	start_bg mpspawn -j 1 --name al -c 'until [ -e "$P.go" ]; do sleep 0.02; done'
	wait_until 10 wstate_is al 0 running
	run -0 mpspawn is-alive al
	touch "$P.go"
	mpspawn wait al
	run -1 mpspawn is-alive al
}

@test "--heartbeat: status reports the group stale (exit 1) when a worker stops calling beat" {
	start_bg mpspawn -j 2 --name hb --heartbeat 0.5 -c '
		while [ ! -e "$P.stop$MP_WORKER_ID" ]; do mpspawn beat; sleep 0.05; done
		exec sleep 300'
	wait_until 10 beaten hb 1
	run -0 mpspawn status hb
	[[ $output != *STALE* ]]
	touch "$P.stop1"
	wait_until 10 gstate_is hb stale
	run -1 mpspawn status hb
	[[ $output == *"heartbeat: every 500ms: STALE"* ]]
	[ "$(wfield hb 1 stale)" = true ]
	[ "$(wfield hb 0 stale)" = false ]
	run -0 mpspawn is-alive hb
}

@test "beat outside a worker is a usage error; beat of an ended group exits 66" {
	run -64 --separate-stderr env -u MP_SPAWN_NAME mpspawn beat
	[[ $stderr == *"not in an mpspawn worker"* ]]
	mpspawn -j 1 --name old -c 'env | grep ^MP_ >"$P.env"'
	run -66 env $(cat "$P.env") mpspawn beat
	run -66 env MP_SPAWN_NAME=nosuch MP_WORKER_ID=0 MP_SPAWN_RUN=1 mpspawn beat
}

@test "rm removes the record; status, wait, kill and rm of a missing group exit 66" {
	mpspawn -j 1 --name gone true
	run -0 mpspawn rm gone
	run -66 --separate-stderr mpspawn status gone
	[[ $stderr == *"no group named 'gone'"* ]]
	run -66 mpspawn wait gone
	run -66 mpspawn kill gone
	run -66 mpspawn is-alive gone
	run -66 mpspawn rm gone
}

@test "a waiter wakes with 66 when the record is removed" {
	start_bg mpspawn -j 1 --name rmw -- sleep 300
	wait_until 10 wstate_is rmw 0 running
	start_bg mpspawn wait rmw
	local w=$BG_PID st=0
	sleep 0.1
	mpspawn rm rmw
	wait "$w" || st=$?
	[ "$st" = 66 ]
}

@test "the name of a running group cannot be taken (75); that of an ended one is reused" {
	start_bg mpspawn -j 1 --name busy -- sleep 300
	wait_until 10 wstate_is busy 0 running
	run -75 --separate-stderr mpspawn -j 1 --name busy true
	[[ $stderr == *"is running"* ]]
	mpspawn -j 2 --name re -- sh -c 'exit 1' || true
	run -0 mpspawn -j 2 --name re true
	[ "$(gfield re status)" = 0 ]
	# another number of workers replaces the record
	run -0 mpspawn -j 5 --name re true
	[ "$(gfield re nworkers)" = 5 ]
}

# ---- pools ----

@test "pool: 200 messages, 4 workers: every message is processed exactly once" {
	seq 200 | mpqueue put jobs
	mpqueue close jobs
	run -0 timeout 120 mpspawn -j 4 --queue jobs --name pool -c 'echo "$1 $MP_WORKER_ID" >>"$P.done"'
	[ "$(cut -d' ' -f1 "$P.done" | sort -n | uniq -c | awk '$1 != 1' | wc -l)" = 0 ]
	[ "$(cut -d' ' -f1 "$P.done" | sort -nu | wc -l)" = 200 ]
	[ "$(gfield pool messages)" = 200 ]
	run -0 mpqueue info jobs --json
	[[ $output == *'"unfinished":0'* ]]
}

@test "pool: a worker SIGKILLed mid-message loses nothing: every message is processed at least once" {
	seq 200 | mpqueue put jobs
	mpqueue close jobs
	# the worker handling message 50 is killed while it runs the command
	run -137 timeout 120 mpspawn -j 4 --queue jobs --name pk -c '
		if [ "$1" = 50 ] && mkdir "$P.killed" 2>/dev/null; then
			kill -KILL $PPID; sleep 300
		fi
		echo "$1" >>"$P.done"'
	[ -d "$P.killed" ]
	[ "$(sort -nu "$P.done" | wc -l)" = 200 ]
	[ "$(sort -nu "$P.done" | head -1)" = 1 ]
	[ "$(sort -nu "$P.done" | tail -1)" = 200 ]
}

@test "pool: --stdin passes the message on standard input" {
	mpqueue put q 'hello world' 'second one'
	mpqueue close q
	run -0 mpspawn -j 1 --queue q --stdin -- sh -c 'read -r x; echo "got[$x] args=$#"'
	[ "$output" = $'got[hello world] args=0\ngot[second one] args=0' ]
}

@test "pool: failed messages are counted, listed on stderr, and the status is the first failure" {
	mpqueue put q ok bad1 ok2
	mpqueue close q
	run -3 --separate-stderr mpspawn -j 1 --queue q --name pf -- sh -c 'case $1 in bad*) exit 3;; esac' sh
	[[ $stderr == *"message failed with status 3: bad1"* ]]
	[[ $stderr == *"1 of 3 messages failed"* ]]
	[ "$(gfield pf failed)" = 1 ]
	[ "$(wfield pf 0 messages)" = 3 ]
}

@test "pool: workers wait for messages until the queue is closed" {
	start_bg mpspawn -j 2 --queue late --name pl -c 'echo "$1" >>"$P.done"'
	local m=$BG_PID st=0
	wait_until 10 wstate_is pl 1 running
	mpqueue put late a b c
	wait_until 10 lines "$P.done" 3
	run -0 mpspawn is-alive pl
	mpqueue close late
	wait "$m" || st=$?
	[ "$st" = 0 ]
	run -64 mpspawn --stdin true
	run -64 mpspawn --queue 'bad/name' true
}

@test "pool: --ttl ends a message's command that runs too long: it failed with 124, is not retried" {
	mpqueue put q one slow two stubborn three
	mpqueue close q
	# slow ends at SIGTERM; stubborn ignores it and gets SIGKILL after -k
	run -124 --separate-stderr timeout -s KILL 120 mpspawn -j 1 --queue q --name pt \
		--ttl 1s -k 1s -c '
		echo "$1" >>"$P.ran"
		case $1 in
		slow) exec sleep 300 ;;
		stubborn) trap "" TERM; sleep 300 ;;
		esac
		echo "$1" >>"$P.done"'
	[[ $stderr == *"ran out of --ttl"* ]]
	[[ $stderr == *"message failed with status 124: slow"* ]]
	[[ $stderr == *"message failed with status 124: stubborn"* ]]
	[[ $stderr == *"2 of 5 messages failed"* ]]
	# each ran once: a failed message is not handed out again
	[ "$(sort "$P.ran" | tr '\n' ' ')" = "one slow stubborn three two " ]
	[ "$(sort "$P.done" | tr '\n' ' ')" = "one three two " ]
	[ "$(gfield pt failed)" = 2 ]
	run -0 mpqueue info q --json
	[[ $output == *'"unfinished":0'* ]]
	run -64 mpspawn --ttl 1s true
	run -64 mpspawn --queue q --ttl 0 true
	run -64 mpspawn --queue q --ttl soon true
}

@test "pool: with --ttl, the message of a stopped worker goes back to the queue by itself" {
	mpqueue put q held
	start_bg mpspawn -j 1 --queue q --name ps --ttl 1s -k 0 -c 'echo $PPID >"$P.worker.tmp"
		mv "$P.worker.tmp" "$P.worker"; exec sleep 300'
	local m=$BG_PID w st=0
	wait_until 30 test -s "$P.worker"
	w=$(cat "$P.worker")
	echo "$w" >>"$P.gc"
	kill -STOP "$w"
	# the lease ends 1s + 0s + 1s after the take; without --ttl it would
	# last as long as the (stopped, live) worker
	run -0 mpqueue get q -t 60
	[ "$output" = held ]
	kill -CONT "$w"
	mpqueue close q
	wait "$m" || st=$?
	[ "$st" = 124 ]
}

# ---- usage, data and system errors ----

@test "usage errors exit 64" {
	run -64 mpspawn
	run -64 mpspawn -j 0 true
	run -64 mpspawn -j x true
	run -64 mpspawn -j 65537 true
	run -64 mpspawn --jobs 0 true
	# one meaning per letter: -n is --nonblock, not a count of workers;
	# --signal has no short form (-s is --shared elsewhere)
	run -127 mpspawn -n 2 true	# "2" is the command
	run -64 --separate-stderr mpspawn kill x -s TERM
	[[ $stderr == *"invalid option -- 's'"* ]]
	run -64 mpspawn --workers 2 true
	run -64 --separate-stderr mpspawn --name 'a/b' true
	[[ $stderr == *"bad name"* ]]
	run -64 mpspawn -c 'true' true
	run -64 mpspawn status
	run -64 mpspawn ls extra
	run -64 mpspawn status x --tag
	run -64 mpspawn --restart sometimes true
	run -64 mpspawn -t soon true
	run -64 mpspawn --no-such-option true
}

@test "a corrupt record or another kind's file exits 65" {
	local_store_only
	mpspawn -j 2 --name c true
	# nworkers, the first word of the body
	printf '\377\377\377\377' | dd of="$MP_DIR/spawn.c" bs=1 seek=256 conv=notrunc status=none
	run -65 --separate-stderr mpspawn status c
	[[ $stderr == *corrupt* ]]
	mplock create L
	cp "$MP_DIR/lock.L" "$MP_DIR/spawn.L"
	run -65 --separate-stderr mpspawn wait L
	[[ $stderr == *"not a spawn"* ]]
}

@test "a store under a regular file is unavailable: 69, naming the store" {
	: >"$T/file"
	run -69 --separate-stderr mpspawn --dir "$T/file/store" -j 1 true
	[[ $stderr == *"$T/file/store"* ]]
}

@test "no process can be started: 71" {
	local_store_only
	[ "$(id -u)" = 0 ] || skip "needs root to run as another uid with RLIMIT_NPROC"
	local d
	d=$(mktemp -d)
	chown 65534:65534 "$d"
	tools_for_uid 65534
	run -71 --separate-stderr setpriv --reuid 65534 --regid 65534 --clear-groups \
		env MP_DIR="$d/store" bash -c "ulimit -u 1; exec '$OTHER_BIN/mpspawn' -j 2 true"
	rm -rf "$d"
	[[ $stderr == *"cannot start"* ]]
}

@test "a full store exits 73" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	SMALL=$T/small
	mkdir -p "$SMALL"
	mount -t tmpfs -o size=64k,mode=0700 tmpfs "$SMALL"
	run -73 mpspawn --dir "$SMALL" -j 60000 true
	run -0 mpspawn --dir "$SMALL" -j 2 true
}

@test "a failed write to stdout exits 74, for status and for --tag output" {
	mpspawn -j 1 --name o true
	run -74 sh -c 'mpspawn status o >/dev/full'
	run -74 sh -c 'mpspawn ls --json >/dev/full'
	run -74 sh -c 'mpspawn -j 2 --tag -- echo hi >/dev/full'
}

@test "a record that others could write is refused with 77" {
	local_store_only
	mpspawn -j 1 --name p true
	chmod 0666 "$MP_DIR/spawn.p"
	run -77 --separate-stderr mpspawn status p
	[[ $stderr == *"writable by others"* ]]
}

@test "another user's store is unavailable to them: 69" {
	[ "$(id -u)" = 0 ] || skip "needs root to act as another uid"
	mpspawn -j 1 --name mine true
	chmod 755 "$T"
	tools_for_uid 65534
	run -69 setpriv --reuid 65534 --regid 65534 --clear-groups \
		"$OTHER_BIN/mpspawn" status mine
}

@test "--version and --help print on stdout and exit 0" {
	run -0 mpspawn --version
	[[ $output == "mpspawn (mptools) "* ]]
	run -0 mpspawn --help
	[[ $output == *"-j, --jobs=N"* ]]
	[[ $output == *"-n, --nonblock"* ]]
	[[ $output != *"-s, --signal"* ]]
	[[ $output == *"status NAME"* ]]
	# --lease here is the group's record on a Redis store, not a hold
	[[ $output == *"--lease=DURATION"*"the group's record"* ]]
	[[ $output != *"a hold lasts DURATION"* ]]
}
