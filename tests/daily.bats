#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Daily use (issue 21): quiet where flock is quiet, --existing, reopen and
# repeatable pools, task-done, progress on long waits, the warning about a
# private /dev/shm, shellcheck-clean examples.
load helpers/common

# ---- quiet where flock is quiet ----

@test "-n busy and timeouts print nothing unless -v, in every waiting verb; other errors still print" {
	mplock acquire L --owner none
	run -75 --separate-stderr mplock -n run L true
	[ -z "$stderr" ]
	run -124 --separate-stderr mplock -t 50ms acquire L --owner none
	[ -z "$stderr" ]
	run -75 --separate-stderr mplock -v -n run L true
	[[ $stderr == *"lock 'L': busy"* ]]
	mpsem acquire S --owner none
	run -75 --separate-stderr mpsem -n acquire S --owner none
	[ -z "$stderr" ]
	run -75 --separate-stderr mpevent wait -n E
	[ -z "$stderr" ]
	run -124 --separate-stderr mpqueue get -t 50ms Q
	[ -z "$stderr" ]
	run -75 --separate-stderr mpvar wait -n V --set
	[ -z "$stderr" ]
	run -75 --separate-stderr mpvar wait -v -n V --set
	[[ -n $stderr ]]
	# not busy, not a timeout: still said
	run -66 --separate-stderr mplock -n release nosuch --owner none
	[[ $stderr == *"no lock named 'nosuch'"* ]]
	run -64 --separate-stderr mplock -n
	[ -n "$stderr" ]
}

# ---- --existing ----

@test "-e on every verb that would create: a missing object is 66 and nothing is created" {
	run -66 --separate-stderr mplock -e acquire L --owner none
	[[ $stderr == *"no lock named 'L'"* ]]
	run -66 mplock -e run L true
	run -66 mpsem --existing run S true
	run -66 mpsem -e acquire S --owner none
	run -66 mpevent -e set E
	run -66 mpevent -e wait -n E
	run -66 mpqueue -e put Q a
	run -66 mpqueue -e get -n Q
	run -66 mpqueue -e close Q
	run -66 mpqueue -e reopen Q
	run -66 mpvar -e set V 1
	run -66 mpvar -e incr V
	run -66 mpspawn -e -j 1 --queue Q -- true
	run -0 mptools ls
	[ -z "$output" ]
	# and on what exists, as without it
	mplock create L
	run -0 mplock -e acquire L --owner none
	mpqueue create Q
	run -0 mpqueue -e put Q a
}

@test "MP_EXISTING=1 sets -e for a whole script; create still creates" {
	export MP_EXISTING=1
	run -66 mpevent set data-raedy
	run -66 mpevent wait data-raedy
	run -0 mpevent create data-ready
	run -0 mpevent set data-ready
	run -0 mpevent wait data-ready
	MP_EXISTING=0 run -0 mpevent set other
}

# ---- repeatable pipelines ----

@test "create on an existing object with other parameters names both; on a closed queue it says closed" {
	mpqueue create Q --max-items 4
	run -73 --separate-stderr mpqueue create Q --max-items 8
	[[ $stderr == *"--max-items 4 "* ]]
	[[ $stderr == *"--max-items 8 "* ]]
	run -0 mpqueue create Q --max-items 4
	mpqueue close Q
	run -2 --separate-stderr mpqueue create Q
	[[ $stderr == *"queue 'Q' exists and is closed"*"mpqueue reopen Q"* ]]
	mpvar create V --max-size 100
	run -73 --separate-stderr mpvar create V --max-size 200
	[[ $stderr == *"--max-size 100"*"--max-size 200"* ]]
	mpsem create S -j 2
	run --separate-stderr mpsem create S -j 3
	[ "$status" -ne 0 ]
	[[ $stderr == *"2 slots, not 3"* ]]
}

@test "a pool on a queue closed and drained already says it has nothing to do" {
	mpqueue put Q a --close
	run -0 --separate-stderr mpspawn -j 2 --queue Q -- true
	[ -z "$stderr" ]
	run -0 --separate-stderr mpspawn -j 2 --queue Q -- true
	[[ $stderr == *"queue 'Q' is closed and empty: the pool has nothing to do ('mpqueue reopen Q'"* ]]
	run -0 --separate-stderr mpspawn -q -j 2 --queue Q -- true
	[ -z "$stderr" ]
}

# pool_lines: README's pool example, its ./work replaced by a command that
# records each message.
pool_lines() {
	grep -E '^(mpqueue reopen jobs|seq 200 \| mpqueue put jobs --close|mpspawn -j 4 --queue jobs -c )' \
		"$MP_TOP_SRCDIR/README.md" | sed 's/#.*//; s|\./work "\$1"|echo "$1" >>"$OUT"|'
}

@test "README's pool example works twice in a row: each run processes every message once" {
	[ "$(pool_lines | wc -l)" = 3 ]
	export OUT=$BATS_TEST_TMPDIR/out
	local run
	for run in 1 2; do
		: >"$OUT"
		run -0 timeout 120 sh -ec "$(pool_lines)"
		[ "$(sort -n "$OUT" | uniq | wc -l)" = 200 ]
		[ "$(wc -l <"$OUT")" = 200 ]
	done
}

@test "mpspawn(1)'s pool example works twice in a row too" {
	local script run
	# its three lines (not in $lines: run sets that), ffmpeg replaced by a command that records each file
	script=$(grep -A2 '^mpqueue reopen wavs$' "$MP_TOP_SRCDIR/man/mpspawn.1" |
		sed 's|ffmpeg -i "$1" "${1%.wav}.mp3"|echo "$1" >>"$OUT"|')
	[ "$(wc -l <<<"$script")" = 3 ]
	[[ $script == *'>>"$OUT"'* ]]
	export OUT=$BATS_TEST_TMPDIR/out
	mkdir "$BATS_TEST_TMPDIR/wavs"
	touch "$BATS_TEST_TMPDIR"/wavs/{a,b,c}.wav
	for run in 1 2; do
		: >"$OUT"
		run -0 timeout 60 sh -ec "cd '$BATS_TEST_TMPDIR/wavs'; $script"
		[ "$(sort "$OUT" | tr '\n' ' ')" = "./a.wav ./b.wav ./c.wav " ]
	done
}

# ---- task-done ----

@test "task-done marks a message done; done is the same verb, kept as an alias" {
	mpqueue put Q a b c
	mpqueue get Q --count 3 >/dev/null
	run -0 mpqueue task-done Q
	run -0 mpqueue done Q
	run -75 mpqueue join -n Q
	run -0 mpqueue task-done Q --count 1
	run -0 mpqueue join -n Q
	run -1 mpqueue task-done Q
	run -0 mpqueue --help
	[[ $output == *"task-done NAME"* ]]
}

# ---- progress ----

@test "-v while waiting says who holds the lock: pid, command and since" {
	start_bg mplock run L sleep 300
	wait_until 10 mplock is-locked L
	local holder
	# the wrapped command, as the lock records it (not pgrep: other suites sleep too)
	wait_until 10 bash -c 'mplock info L --json | grep -q command_pid'
	holder=$(mplock info L --json | grep -o '"command_pid":[0-9]*' | cut -d: -f2)
	[ -n "$holder" ]
	start_bg sh -c 'mplock -v run L true 2>"$1"' sh "$BATS_TEST_TMPDIR/err"
	wait_until 10 file_has "$BATS_TEST_TMPDIR/err" "waiting for lock 'L'"
	grep -q "held by $holder sleep since [0-9][0-9]:" "$BATS_TEST_TMPDIR/err"
	# once, not a line per wake-up; and again 10 s later
	[ "$(grep -c 'waiting for' "$BATS_TEST_TMPDIR/err")" = 1 ]
	wait_until 30 bash -c '[ "$(grep -c "waiting for" "$1")" = 2 ]' _ "$BATS_TEST_TMPDIR/err"
	# and for a semaphore's slot
	mpsem acquire S --owner $$
	start_bg sh -c 'mpsem -v acquire S --owner none 2>"$1"' sh "$BATS_TEST_TMPDIR/err2"
	wait_until 10 file_has "$BATS_TEST_TMPDIR/err2" "waiting for sem 'S': 1/1 slots used; held by $$ "
	mpsem release S --owner $$
	wait_until 10 file_has "$BATS_TEST_TMPDIR/err2" "acquired a slot"
}

@test "-v without a wait says nothing about holders" {
	run -0 --separate-stderr mplock -v run L true
	[[ $stderr != *"waiting for"* ]]
	mpevent set E
	run -0 --separate-stderr mpevent -v wait E
	[[ $stderr != *"waiting for"* ]]
}

@test "-v on a wait for an event, a variable or a queue says what it waits for after a second" {
	start_bg sh -c 'mpevent -v wait E 2>"$1"' sh "$BATS_TEST_TMPDIR/e"
	start_bg sh -c 'mpvar -v wait V --set 2>"$1"' sh "$BATS_TEST_TMPDIR/v"
	start_bg sh -c 'mpqueue -v get Q 2>"$1"' sh "$BATS_TEST_TMPDIR/q"
	wait_until 20 file_has "$BATS_TEST_TMPDIR/e" "waiting for event 'E': clear; held by nobody; 1 waiting"
	wait_until 20 file_has "$BATS_TEST_TMPDIR/v" "waiting for var 'V': unset"
	wait_until 20 file_has "$BATS_TEST_TMPDIR/q" "waiting for queue 'Q': 0/16384 items"
}

# on_tty FILE CMD: runs CMD (a string) with a terminal as its stdin,
# stdout and stderr, the terminal's output in FILE.
on_tty() {
	command -v script >/dev/null || skip "script(1) is not installed"
	script -qfec "$2" "$1" </dev/null >/dev/null
}

@test "mpqueue join --progress draws done/total on a terminal, nothing when stderr is not one" {
	seq 4 | mpqueue put Q
	# the consumer starts once join waits (join counts among the getters)
	start_bg sh -c 'until mpqueue info Q --json | grep -q "\"getters\":1,"; do sleep 0.02; done
		i=0; while [ $i -lt 4 ]; do mpqueue get Q >/dev/null && sleep 0.2 && mpqueue task-done Q; i=$((i + 1)); done'
	on_tty "$BATS_TEST_TMPDIR/tty" "mpqueue join Q --progress"
	grep -q 'join Q: 4/4 (100%)' "$BATS_TEST_TMPDIR/tty"
	grep -q $'\r\033\\[K' "$BATS_TEST_TMPDIR/tty"
	# each drawing: done/total (percent), the rate so far and the ETA at
	# that rate; "-" before anything is done, 0s at the end (the consumer
	# takes 0.2 s a message, so some are drawn in between)
	tr '\r' '\n' <"$BATS_TEST_TMPDIR/tty" | sed -n 's/^\x1b\[Kjoin Q: //p' >"$BATS_TEST_TMPDIR/lines"
	cat "$BATS_TEST_TMPDIR/lines"
	grep -qx '0/4 (0%)  0\.0/s  ETA -' "$BATS_TEST_TMPDIR/lines"
	grep -qx '4/4 (100%)  [0-9]*\.[0-9]/s  ETA 0s' "$BATS_TEST_TMPDIR/lines"
	run ! grep -q '^4/4 (100%)  0\.0/s' "$BATS_TEST_TMPDIR/lines"
	grep -q '^[123]/4 ' "$BATS_TEST_TMPDIR/lines"
	# in between, the ETA is what is left at the rate shown (rounded)
	awk '/^[123]\/4 / {
		split($1, d, "/"); rate = $3 + 0; eta = $5
		secs = eta ~ /ms$/ ? substr(eta, 1, length(eta) - 2) / 1000 : substr(eta, 1, length(eta) - 1) + 0
		# the rate is shown to 0.1/s: the ETA was worked out from one within 0.05 of it
		lo = (4 - d[1]) / (rate + 0.05); hi = rate > 0.05 ? (4 - d[1]) / (rate - 0.05) : 1e9
		if (eta !~ /^[0-9.]+m?s$/ || secs < lo * 0.95 - 0.05 || secs > hi * 1.05 + 0.05) { print "bad ETA: " $0; bad = 1 }
	} END { exit bad }' "$BATS_TEST_TMPDIR/lines"
	seq 2 | mpqueue put Q
	mpqueue get Q --all >/dev/null
	mpqueue task-done Q --count 2
	run -0 --separate-stderr mpqueue join Q --progress
	[ -z "$stderr" ]
}

@test "mpsem drain --progress and mpspawn --progress draw a line on a terminal only" {
	# a job that holds its slot until drain is waiting
	mpevent create go
	mpsem run --bg S -j 2 mpevent wait go
	start_bg sh -c 'until pgrep -f "mpsem drain S --progress" >/dev/null; do sleep 0.02; done
		sleep 0.3; mpevent set go'
	on_tty "$BATS_TEST_TMPDIR/tty" "mpsem drain S --progress"
	grep -q 'drain S: 1/1 (100%)' "$BATS_TEST_TMPDIR/tty"
	on_tty "$BATS_TEST_TMPDIR/tty2" "mpspawn -j 3 --name G --progress -- sleep 0.3"
	grep -q 'G: 3/3 (100%)' "$BATS_TEST_TMPDIR/tty2"
	seq 5 | mpqueue put P --close
	on_tty "$BATS_TEST_TMPDIR/tty3" "mpspawn -j 2 --name H --queue P --progress -- true"
	grep -q 'H: 5/5 (100%)' "$BATS_TEST_TMPDIR/tty3"
	run -0 --separate-stderr mpspawn -j 2 --progress -- true
	[ -z "$stderr" ]
	run -64 mpqueue get Q --progress
	run -64 mpspawn --daemon --progress -- true
}

# ---- the store of a private /dev/shm ----

@test "-v in a mount namespace other than init's, with the default store: one warning" {
	command -v unshare >/dev/null || skip "unshare is not installed"
	unshare -m readlink /proc/1/ns/mnt >/dev/null 2>&1 ||
		skip "cannot tell here: /proc/1/ns/mnt cannot be read from a new mount namespace"
	unset MP_DIR MP_STORE
	run -0 --separate-stderr unshare -m mplock -v ls
	[ "$(grep -c 'mount namespace other than' <<<"$stderr")" = 1 ]
	run -0 --separate-stderr unshare -m mplock ls
	[[ $stderr != *"mount namespace"* ]]
}

@test "no warning about mount namespaces with a store of one's own choosing" {
	command -v unshare >/dev/null || skip "unshare is not installed"
	run -0 --separate-stderr unshare -m mplock -v ls
	[[ $stderr != *"mount namespace"* ]]
	run -0 --separate-stderr mplock -v ls
	[[ $stderr != *"mount namespace"* ]]
}

# ---- shellcheck ----

# readme_sh: README's ```sh blocks, one after another.
readme_sh() {
	awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' "$MP_TOP_SRCDIR/README.md"
}

need_shellcheck() {
	command -v shellcheck >/dev/null && return
	# CI installs it (.ci/run): there, its absence is a failure
	[ -z "${CI:-}" ] || { echo "shellcheck is not installed" >&2; return 1; }
	skip "shellcheck is not installed"
}

@test "the examples are shellcheck-clean" {
	need_shellcheck
	run shellcheck "$MP_TOP_SRCDIR"/examples/*.sh	# each in the shell of its #! line
	echo "$output"
	[ "$status" = 0 ]
	# and the commands of the crontab (not its variables: cron exports them)
	run shellcheck -s sh - < <(grep -vE '^(#|[A-Z_]+=)' "$MP_TOP_SRCDIR/examples/crontab" |
		grep . | sed -E 's/^([^ ]+ ){5}//')
	echo "$output"
	[ "$status" = 0 ]
}

@test "README's shell blocks are shellcheck-clean" {
	need_shellcheck
	[ -n "$(readme_sh)" ]
	# (its single-quoted strings are the scripts of sh -c: SC2016 is not for them)
	run shellcheck -s sh -e SC2016 - <<<"$(readme_sh)"
	echo "$output"
	[ "$status" = 0 ]
}

@test "mpqueue done in a script makes shellcheck warn; task-done does not" {
	need_shellcheck
	run shellcheck -s sh - <<<'while m=$(mpqueue get q); do echo "$m"; mpqueue done q; done'
	[ "$status" != 0 ]
	run shellcheck -s sh - <<<'while m=$(mpqueue get q); do echo "$m"; mpqueue task-done q; done'
	[ "$status" = 0 ]
}

# ---- systemd and cron ----

@test "examples/systemd: every unit uses the store /run/mptools, which the tmpfiles.d snippet makes" {
	local d=$MP_TOP_SRCDIR/examples/systemd u
	for u in backup.service report.service pool.service; do
		grep -qx 'Environment=MP_DIR=/run/mptools' "$d/$u"
		grep -qx 'ReadWritePaths=/run/mptools' "$d/$u"
		grep -qx 'PrivateDevices=yes' "$d/$u"
	done
	grep -q '^OnCalendar=' "$d/backup.timer"
	grep -q 'mpevent -e wait data-ready' "$d/report.service"
	grep -q 'mpspawn -j 4 --name pool --queue jobs' "$d/pool.service"
	grep -qE '^d /run/mptools 0700 ' "$d/mptools.conf"
	command -v systemd-tmpfiles >/dev/null || skip "systemd-tmpfiles is not installed"
	systemd-tmpfiles --root="$BATS_TEST_TMPDIR/root" --create "$d/mptools.conf"
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/root/run/mptools")" = 700 ]
}

# exec_start UNIT: the unit's ExecStart, the tools from the build and
# /usr/local/bin/X replaced by a command that records X in $BATS_TEST_TMPDIR/ran.
exec_start() {
	sed -n 's/^ExecStart=//p' "$MP_TOP_SRCDIR/examples/systemd/$1" |
		sed -E 's|/usr/local/bin/(mp[a-z]+)|\1|g; s|/usr/local/bin/([a-z-]+)|echo \1 >>"$BATS_TEST_TMPDIR/ran"|; s/\$\$/$/g'
}

@test "backup.service's command runs the backup, and when the lock is taken skips silently with status 0" {
	run -0 --separate-stderr sh -c "$(exec_start backup.service)"
	[ "$(cat "$BATS_TEST_TMPDIR/ran")" = backup ]
	start_bg mplock run backup sleep 300
	wait_until 10 mplock is-locked backup
	run -0 --separate-stderr sh -c "$(exec_start backup.service)"
	[ -z "$output$stderr" ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ran")" = 1 ]
}

@test "the crontab gives PATH with /usr/local/bin, and the store of the units" {
	local c=$MP_TOP_SRCDIR/examples/crontab
	[[ $(grep -v '^#' "$c" | grep -m1 .) == PATH=/usr/local/bin:* ]]
	grep -qx 'MP_DIR=/run/mptools' "$c"
	grep -q 'mptools gc --older-than' "$c"
	grep -q 'PATH=/usr/local/bin:/usr/bin:/bin' "$MP_TOP_SRCDIR/README.md"
}
