#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mptools, the one view of the store (ls of every kind, gc, version), the
# table every tool's own ls prints, and the one JSON schema of info and
# ls --json (mptools(7), "JSON").
load helpers/common

# one object of each kind, none in use
make_one_of_each() {
	mplock create L
	mpsem create S -j 3
	mpevent create E
	mpqueue create Q --max-items 5
	mpspawn --name G -- true
	mpvar set V hello
}

@test "mptools ls lists every object of every kind in one table under a header" {
	make_one_of_each
	run -0 mptools ls
	[ "${lines[0]}" = "$(head -n1 <<<"$output")" ]
	read -ra head <<<"${lines[0]}"
	[ "${head[*]}" = "KIND NAME STATE WAITERS AGE HOLDERS" ]
	[ "${#lines[@]}" = 7 ]
	[[ ${lines[1]} =~ ^lock\ +L\ +free\  ]]
	[[ ${lines[2]} =~ ^sem\ +S\ +0/3\ slots\ used ]]
	[[ ${lines[3]} =~ ^event\ +E\ +clear ]]
	[[ ${lines[4]} =~ ^queue\ +Q\ +0/5\ items,\ 0\ in\ flight ]]
	[[ ${lines[5]} =~ ^spawn\ +G\ +done,\ exit\ 0 ]]
	[[ ${lines[6]} =~ ^var\ +V\ +=\ hello ]]
}

@test "mptools ls shows holders by pid, command and since, and the waiters" {
	start_bg mplock run L sleep 300
	wait_until 10 mplock is-locked L
	local holder
	# the wrapped command, as the lock records it (not pgrep: other suites sleep too)
	wait_until 10 bash -c 'mplock info L --json | grep -q command_pid'
	holder=$(mplock info L --json | grep -o '"command_pid":[0-9]*' | cut -d: -f2)
	[ -n "$holder" ]
	start_bg mplock run L true
	wait_until 10 bash -c 'mptools ls | grep -q "^lock  *L  *locked (exclusive)  *1 "'
	run -0 mptools ls
	[[ $output == *"$holder sleep since "[0-9][0-9]:[0-9][0-9]:[0-9][0-9]* ]]
	# and the tool's own ls: the same line, without the kind
	run -0 mplock ls
	read -ra head <<<"${lines[0]}"
	[ "${head[*]}" = "NAME STATE WAITERS AGE HOLDERS" ]
	[[ ${lines[1]} == "L "*"locked (exclusive)"*" 1 "*"$holder sleep since "* ]]
}

@test "every tool's own ls has the header and the holders' pids" {
	make_one_of_each
	mpsem acquire S --owner $$
	local t
	for t in mplock mpsem mpevent mpqueue mpspawn mpvar; do
		run -0 "$t" ls
		read -ra head <<<"${lines[0]}"
		[ "${head[*]}" = "NAME STATE WAITERS AGE HOLDERS" ]
		[ "${#lines[@]}" = 2 ]
	done
	run -0 mpsem ls
	[[ ${lines[1]} == *"1/3 slots used"*" $$ "* ]]
	mpsem release S --owner $$
}

@test "mptools ls --json is one array of every kind's info object" {
	command -v python3 >/dev/null || skip "python3 is not installed (it checks the JSON)"
	make_one_of_each
	run -0 mptools ls --json
	python3 -c 'import json, sys
objs = json.loads(sys.argv[1])
assert [o["kind"] for o in objs] == ["lock", "sem", "event", "queue", "spawn", "var"], objs
assert [o["name"] for o in objs] == ["L", "S", "E", "Q", "G", "V"], objs' "$output"
}

# check_schema JSON: every object (of an array, or one) has the fields of
# mptools(7), "JSON": kind, name, path strings, a state string, created an
# RFC 3339 time; every key whose name says it is a time is one (or null),
# and every count is a number.
check_schema() {
	python3 -c 'import json, re, sys
rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
times = {"created", "changed", "since", "started", "ended", "last_set", "last_clear",
         "owner_start"}
counts = {"waiters", "slots", "free", "items", "bytes", "in_flight", "unfinished",
          "max_items", "max_bytes", "max_msg", "token", "last_token", "generation",
          "sets", "clears", "nworkers", "running", "pid", "owner_pid", "length",
          "max_size", "version", "held_ms", "runtime_ms", "restarts"}
def walk(o, top):
    if isinstance(o, list):
        for x in o: walk(x, False)
        return
    if not isinstance(o, dict): return
    if top:
        for k in ("kind", "name", "path", "state"):
            assert isinstance(o.get(k), str) and o[k], (k, o)
        assert rfc3339.match(o.get("created") or ""), ("created", o)
    for k, v in o.items():
        if k in times and v is not None:
            assert isinstance(v, str) and rfc3339.match(v), (k, v)
        if k in counts and v is not None:
            assert isinstance(v, int) and not isinstance(v, bool), (k, v)
        if isinstance(v, (dict, list)):
            walk(v, False)
doc = json.loads(sys.argv[1])
for o in (doc if isinstance(doc, list) else [doc]):
    walk(o, True)' "$1"
}

@test "info --json and ls --json of every kind: kind, name, path, state, RFC 3339 times, numbers as numbers" {
	command -v python3 >/dev/null || skip "python3 is not installed (it checks the JSON)"
	make_one_of_each
	# in use, so that holders, leases and waiters are in the objects too
	start_bg mplock run L sleep 300
	mpsem acquire S --owner $$
	mpqueue put Q a b
	mpqueue get Q --lease --owner $$ >/dev/null
	start_bg mpevent wait E
	wait_until 10 bash -c '[ "$(mpevent info E --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"waiters\"])")" = 1 ]'
	wait_until 10 mplock is-locked L
	local t n
	for t in mplock:L mpsem:S mpevent:E mpqueue:Q mpvar:V; do
		run -0 "${t%%:*}" info "${t#*:}" --json
		check_schema "$output"
		run -0 "${t%%:*}" ls --json
		check_schema "$output"
	done
	run -0 mpspawn status G --json
	check_schema "$output"
	run -0 mpspawn ls --json
	check_schema "$output"
	run -0 mptools ls --json
	check_schema "$output"
	n=$(python3 -c 'import json, sys; print(len(json.loads(sys.argv[1])))' "$output")
	[ "$n" = 6 ]
	mpsem release S --owner $$
}

@test "mptools gc removes what nobody uses and nobody changed for --older-than; --dry-run only says it" {
	make_one_of_each
	start_bg mplock run busy sleep 300
	wait_until 10 mplock is-locked busy
	mpqueue put Q msg	# a queue with a message is in use
	run -0 mptools gc --older-than 1h
	[ -z "$output" ]
	run -0 mptools gc --older-than 0 --dry-run
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "event E lock L sem S spawn G var V " ]
	run -0 mptools ls
	[ "${#lines[@]}" = 8 ]
	run -0 mptools gc --older-than 0
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "event E lock L sem S spawn G var V " ]
	run -0 mptools ls
	[ "${#lines[@]}" = 3 ]
	[[ ${lines[1]} == lock*busy* ]]
	[[ ${lines[2]} == queue*Q* ]]
	run -66 mplock info L
}

@test "mptools gc needs --older-than; ls and gc take no name" {
	run -64 mptools gc
	run -64 mptools ls x
	run -64 mptools --older-than 1s ls
	run -64 mptools bogus
}

@test "mptools ls --watch prints the table again and again: plain when not a terminal" {
	mplock create L
	start_bg sh -c 'mptools ls --watch 0.1 >"$1"' sh "$BATS_TEST_TMPDIR/out"
	wait_until 10 bash -c '[ "$(grep -c "^KIND" "$1")" -ge 3 ]' _ "$BATS_TEST_TMPDIR/out"
	! grep -q $'\033' "$BATS_TEST_TMPDIR/out"
}

@test "mptools ls --watch on a terminal redraws in place" {
	command -v script >/dev/null || skip "script(1) is not installed"
	mplock create L
	start_bg script -qfc "mptools ls --watch=0.1" "$BATS_TEST_TMPDIR/tty"
	wait_until 10 bash -c '[ "$(grep -c "KIND" "$1")" -ge 3 ]' _ "$BATS_TEST_TMPDIR/tty"
	# home and clear before each table
	grep -q $'\033\\[H\033\\[2J' "$BATS_TEST_TMPDIR/tty"
}

@test "mptools version and --version name the package's version" {
	run -0 mptools version
	[[ $output =~ ^mptools\ [0-9]+\.[0-9]+ ]]
	run -0 mptools --version
	[[ ${lines[0]} == "mptools (mptools) "* ]]
}

@test "an empty store: ls prints nothing, --json an empty array" {
	run -0 mptools ls
	[ -z "$output" ]
	run -0 mptools ls --json
	[ "$output" = "[]" ]
}

@test "mptools ls --watch ends on TERM with 143" {
	mptools ls --watch 0.1 >/dev/null 3>&- &
	local pid=$!
	echo "$pid" >>"$BG_PIDS"
	wait_until 10 test -e "/proc/$pid"
	kill -TERM "$pid"
	local st=0
	wait "$pid" || st=$?
	[ "$st" = 143 ]
}
