#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The verbs every tool has (DESIGN.md §1: create, info, ls, rm) and the
# exit statuses they share (§4), checked the same way in all six tools:
# rm clears whatever lies under an object's name, an unusable store is 69
# everywhere, missing objects are 66, --json is JSON.
load helpers/common

TOOLS="mplock mpsem mpevent mpqueue mpspawn mpvar"

# kind_of TOOL: the kind of TOOL's objects, the prefix of their files
# in the store ($MP_DIR/KIND.NAME)
kind_of() {
	case $1 in
	mplock) echo lock ;;
	mpsem) echo sem ;;
	mpevent) echo event ;;
	mpqueue) echo queue ;;
	mpspawn) echo spawn ;;
	mpvar) echo var ;;
	esac
}

# make_obj TOOL NAME: makes an object of TOOL's kind.  mpspawn has no
# create: its objects are the records of the groups it ran.
make_obj() {
	if [ "$1" = mpspawn ]; then
		mpspawn --name "$2" -- true
	else
		"$1" create "$2"
	fi
}

# creating TOOL NAME: prints the command line of a verb that creates NAME
creating() {
	if [ "$1" = mpspawn ]; then
		echo "mpspawn --name $2 -- true"
	else
		echo "$1 create $2"
	fi
}

need_python() {
	command -v python3 >/dev/null || skip "python3 is not installed (it checks the JSON)"
}

# json_list_len: stdin is a JSON array; prints its length
json_list_len() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
assert isinstance(d, list), "not a JSON array"
print(len(d))'
}

# json_field KEY: stdin is a JSON object (or an array of one); prints d[KEY]
json_field() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
if isinstance(d, list):
    assert len(d) == 1, "not one object"
    d = d[0]
assert isinstance(d, dict), "not a JSON object"
print(d[sys.argv[1]])' "$1"
}

@test "each tool keeps its objects as KIND.NAME files in the store" {
	local t k
	for t in $TOOLS; do
		k=$(kind_of "$t")
		make_obj "$t" obj
		[ -f "$MP_DIR/$k.obj" ]
	done
	[ "$(ls -A "$MP_DIR" | sort | tr '\n' ' ')" = "event.obj lock.obj queue.obj sem.obj spawn.obj var.obj " ]
}

# ---- rm of whatever lies under an object's name ----

# damage TOOL HOW NAME: plants a damaged object of TOOL's kind as NAME
damage() {
	local k f size
	k=$(kind_of "$1")
	f=$MP_DIR/$k.$3
	make_obj "$1" good
	size=$(stat -c %s "$MP_DIR/$k.good")
	case $2 in
	garbage) head -c "$size" /dev/urandom >"$f" ;;
	zeros) head -c "$size" /dev/zero >"$f" ;;
	truncated) cp "$MP_DIR/$k.good" "$f" && truncate -s $((size / 2)) "$f" ;;
	tiny) head -c 10 "$MP_DIR/$k.good" >"$f" ;;
	empty) : >"$f" ;;
	wrong-kind)
		# another kind's whole, valid object under this kind's name
		if [ "$k" = lock ]; then
			mpevent create other
			cp "$MP_DIR/event.other" "$f"
		else
			mplock create other
			cp "$MP_DIR/lock.other" "$f"
		fi
		;;
	esac
	chmod 0600 "$f"
}

@test "rm removes a corrupt, truncated, empty or wrong-kind object in every tool, and the name is usable again" {
	local t k how
	for t in $TOOLS; do
		k=$(kind_of "$t")
		for how in garbage zeros truncated tiny empty wrong-kind; do
			damage "$t" "$how" bad
			echo "# $t, $how"
			run -65 "$t" info bad
			run -0 --separate-stderr "$t" rm bad
			[ ! -e "$MP_DIR/$k.bad" ]
			make_obj "$t" bad
			run -0 "$t" info bad
			"$t" rm bad
		done
		# the good one and the other kind's object are untouched
		[ -f "$MP_DIR/$k.good" ]
		run -0 "$t" info good
	done
}

@test "rm removes a symlink planted under an object's name, without following it, in every tool" {
	local t k
	mkdir -p -m 0700 "$MP_DIR"
	echo precious >"$BATS_TEST_TMPDIR/target"
	for t in $TOOLS; do
		k=$(kind_of "$t")
		echo "# $t"
		ln -s "$BATS_TEST_TMPDIR/target" "$MP_DIR/$k.link"
		ln -s "$BATS_TEST_TMPDIR/nowhere" "$MP_DIR/$k.dangling"
		run -0 "$t" rm link
		run -0 "$t" rm dangling
		[ ! -L "$MP_DIR/$k.link" ] && [ ! -L "$MP_DIR/$k.dangling" ]
		[ "$(cat "$BATS_TEST_TMPDIR/target")" = precious ]
		[ ! -e "$BATS_TEST_TMPDIR/nowhere" ]
	done
}

@test "rm removes a FIFO planted under an object's name, without blocking on it, in every tool" {
	local t k
	mkdir -p -m 0700 "$MP_DIR"
	for t in $TOOLS; do
		k=$(kind_of "$t")
		echo "# $t"
		mkfifo -m 0600 "$MP_DIR/$k.fifo"
		# (opening a FIFO for reading blocks until a writer comes)
		run -0 timeout 20 "$t" rm fifo
		[ ! -e "$MP_DIR/$k.fifo" ]
	done
}

# ---- an unusable store: 69 in every tool, for every verb ----

# store_unavailable DIR: every tool's info, ls, rm and a creating verb
# exit 69 with MP_DIR=DIR, and say which store.
store_unavailable() {
	local d=$1 t cmd
	for t in $TOOLS; do
		for cmd in "$t info X" "$t ls" "$t ls --json" "$t rm X" "$(creating "$t" X)"; do
			echo "# MP_DIR=$d $cmd"
			# shellcheck disable=SC2086 # cmd is words
			MP_DIR=$d run -69 --separate-stderr $cmd
			[[ $stderr == "$t: "*"$d"* ]]
			[ -z "$output" ]
		done
	done
}

@test "a store that is a regular file is unavailable: 69 in every tool" {
	local f=$BATS_TEST_TMPDIR/file
	echo data >"$f"
	store_unavailable "$f"
	[ "$(cat "$f")" = data ]
}

@test "a store that is another user's directory is unavailable: 69 in every tool" {
	[ "$(id -u)" = 0 ] || skip "needs root to chown a directory to another user"
	local d=$BATS_TEST_TMPDIR/theirs
	mkdir -m 0700 "$d"
	chown nobody "$d"
	store_unavailable "$d"
	[ -z "$(ls -A "$d")" ]
}

@test "a store that cannot be created is unavailable: 69 in every tool" {
	store_unavailable /proc/nope/x
	: >"$BATS_TEST_TMPDIR/file"
	store_unavailable "$BATS_TEST_TMPDIR/file/store"
}

@test "a store writable by everybody (mode 0777) is unavailable: 69 in every tool" {
	local d=$BATS_TEST_TMPDIR/open
	mkdir "$d"
	chmod 0777 "$d"
	store_unavailable "$d"
	[ -z "$(ls -A "$d")" ]
	[ "$(stat -c %a "$d")" = 777 ]
}

@test "--dir names an unusable store as MP_DIR does: 69" {
	local t
	: >"$BATS_TEST_TMPDIR/file"
	for t in $TOOLS; do
		run -69 --separate-stderr "$t" --dir "$BATS_TEST_TMPDIR/file" ls
		[[ $stderr == *"$BATS_TEST_TMPDIR/file"* ]]
	done
}

# ---- ls, info, rm ----

@test "ls --json is a JSON array: empty before any object, then one object of the tool's own kind" {
	need_python
	local t json
	for t in $TOOLS; do
		echo "# $t"
		run -0 "$t" ls --json
		json=$output
		run -0 json_list_len <<<"$json"
		[ "$output" = 0 ]
	done
	for t in $TOOLS; do
		echo "# $t"
		make_obj "$t" "one-$t"
		run -0 "$t" ls --json
		json=$output
		# one object each: the store holds the other five kinds' too
		run -0 json_list_len <<<"$json"
		[ "$output" = 1 ]
		run -0 json_field name <<<"$json"
		[ "$output" = "one-$t" ]
	done
}

@test "ls lists the tool's objects by name and nothing else" {
	local t u
	for t in $TOOLS; do
		make_obj "$t" "x-$t"
	done
	for t in $TOOLS; do
		run -0 "$t" ls
		[[ $output == *"x-$t"* ]]
		for u in $TOOLS; do
			[ "$u" = "$t" ] || [[ $output != *"x-$u"* ]]
		done
	done
}

@test "info and rm of a missing object exit 66 in every tool, and create nothing" {
	local t k
	for t in $TOOLS; do
		k=$(kind_of "$t")
		echo "# $t"
		run -66 --separate-stderr "$t" info nope
		[[ $stderr == *"nope"* ]]
		[ -z "$output" ]
		run -66 "$t" info nope --json
		run -66 "$t" rm nope
		[ ! -e "$MP_DIR/$k.nope" ]
		# and once it was there and was removed
		make_obj "$t" gone
		run -0 "$t" rm gone
		[ ! -e "$MP_DIR/$k.gone" ]
		run -66 "$t" rm gone
		run -66 "$t" info gone
	done
}

@test "info --json of an object is a JSON object with its name, in every tool" {
	need_python
	local t json
	for t in $TOOLS; do
		echo "# $t"
		make_obj "$t" "j-$t"
		run -0 --separate-stderr "$t" info "j-$t" --json
		json=$output
		[ -z "$stderr" ]
		run -0 json_field name <<<"$json"
		[ "$output" = "j-$t" ]
		run -0 json_field kind <<<"$json"
		[ "$output" = "$(kind_of "$t")" ]
	done
}

@test "info without --json is for people: not JSON, and names the object" {
	local t
	for t in $TOOLS; do
		make_obj "$t" "h-$t"
		run -0 "$t" info "h-$t"
		[[ $output == *"h-$t"* ]]
		[ "${output:0:1}" != "{" ]
	done
}
