#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The command line of every tool: glibc's argp, parsed with ARGP_IN_ORDER
# so that the first word of a wrapped command ends the tool's options
# (DESIGN.md §3).  What argp prints (--help, --usage, --version, its error
# messages and their "Try ..." line) and the status of a usage error, 64.
load helpers/common

TOOLS="mplock mpsem mpevent mpqueue mpspawn mpvar"

# the verbs each tool's --help must list
verbs_of() {
	case $1 in
	mplock) echo run acquire release is-locked create info ls rm ;;
	mpsem) echo run acquire release value drain create info ls rm ;;
	mpevent) echo set clear is-set wait create info ls rm ;;
	mpqueue) echo create put get ack done join close size is-empty is-full info ls rm ;;
	mpspawn) echo ls status wait kill is-alive rm beat ;;
	mpvar) echo set setnx get incr decr cas unset wait dump create info ls rm ;;
	esac
}

# the version configure gave the build
version() {
	sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$MP_TOP_BUILDDIR/config.h"
}

# try_line TOOL: argp's hint after a usage error
try_line() {
	echo "Try \`$1 --help' or \`$1 --usage' for more information."
}

# ---- help, usage, version ----

@test "--help exits 0 and prints the usage, the verbs and the common options on stdout only" {
	local t v
	for t in $TOOLS; do
		run -0 --separate-stderr "$t" --help
		[ -z "$stderr" ]
		[[ ${lines[0]} == "Usage: $t [OPTION...]"* ]]
		[[ $output == *$'\n'"Verbs:"$'\n'* ]]
		for v in $(verbs_of "$t"); do
			grep -qE "^  $v( |$)" <<<"$output" || {
				echo "$t --help lacks the verb $v"
				return 1
			}
		done
		[[ $output == *" Common options:"* ]]
		[[ $output == *"  -n, --nonblock "* ]]
		[[ $output == *"  -t, --timeout=DURATION "* ]]
		[[ $output == *"  -?, --help "* ]]
		[[ $output == *"      --usage "* ]]
		[[ $output == *"  -V, --version "* ]]
	done
}

@test "-h and -? print the same help as --help" {
	local t help
	for t in $TOOLS; do
		help=$("$t" --help)
		run -0 --separate-stderr "$t" -h
		[ "$output" = "$help" ]
		[ -z "$stderr" ]
		run -0 "$t" "-?"
		[ "$output" = "$help" ]
	done
}

@test "--usage exits 0 with the short synopsis of every option and no option descriptions" {
	local t
	for t in $TOOLS; do
		run -0 --separate-stderr "$t" --usage
		[ -z "$stderr" ]
		[[ ${lines[0]} == "Usage: $t [-"* ]]
		[[ $output == *"[--help]"* ]]
		[[ $output == *"[--usage]"* ]]
		[[ $output == *"[--version]"* ]]
		[[ $output == *"[--timeout=DURATION]"* ]]
		[[ $output != *"Common options"* ]]
		[[ $output != *"Verbs:"* ]]
	done
}

@test "--version and -V print 'TOOL (mptools) VERSION', the copyright, licence and bug address, and exit 0" {
	local t v
	v=$(version)
	[ -n "$v" ]
	for t in $TOOLS; do
		run -0 --separate-stderr "$t" --version
		[ "${lines[0]}" = "$t (mptools) $v" ]
		[[ ${lines[1]} == "Copyright (C) "[0-9][0-9][0-9][0-9]" The mptools authors." ]]
		[[ $output == *"License LGPL-2.1-or-later: GNU LGPL version 2.1 or later"* ]]
		[[ $output == *"There is NO WARRANTY, to the extent permitted by law."* ]]
		[[ ${lines[-1]} == "Report bugs to "*. ]]
		[ -z "$stderr" ]
		run -0 "$t" -V
		[ "${lines[0]}" = "$t (mptools) $v" ]
	done
}

@test "--help ends with where to report bugs, as --version says" {
	local t bug
	for t in $TOOLS; do
		bug=$("$t" --version | tail -n 1)
		run -0 "$t" --help
		[ "${lines[-1]}" = "$bug" ]
	done
}

@test "--help is wrapped at 79 columns and lists a group's options in argp's order" {
	local t long c s x
	for t in $TOOLS; do
		run -0 "$t" --help
		long=$(printf '%s\n' "${lines[@]}" | awk 'length > 79' | head -n 1)
		[ -z "$long" ]
	done
	run -0 mplock --help
	# short options sorted (-c, -s, -x), then the long-only ones
	c=$(printf '%s\n' "${lines[@]}" | grep -n -- '-c, --command' | cut -d: -f1)
	s=$(printf '%s\n' "${lines[@]}" | grep -n -- '-s, --shared' | cut -d: -f1)
	x=$(printf '%s\n' "${lines[@]}" | grep -n -- '-x, --exclusive' | cut -d: -f1)
	[ "$c" -lt "$s" ] && [ "$s" -lt "$x" ]
	# a doc longer than a line goes on, indented to the doc column
	[[ $output == *$'coexists with other shared\n                             holders'* ]]
}

# ---- usage errors: 64, argp's message, the "Try" line, nothing done ----

@test "an unknown long option exits 64 with argp's message and the Try line on stderr" {
	local t
	for t in $TOOLS; do
		run -64 --separate-stderr "$t" --bogus ls
		[ -z "$output" ]
		[ "${stderr_lines[0]}" = "$t: unrecognized option '--bogus'" ]
		[ "${stderr_lines[1]}" = "$(try_line "$t")" ]
	done
	[ ! -e "$MP_DIR" ] || [ -z "$(ls -A "$MP_DIR")" ]
}

@test "an unknown short option exits 64 with argp's message and the Try line" {
	local t
	for t in $TOOLS; do
		run -64 --separate-stderr "$t" -Z ls
		[ "${stderr_lines[0]}" = "$t: invalid option -- 'Z'" ]
		[ "${stderr_lines[1]}" = "$(try_line "$t")" ]
	done
}

@test "a missing argument exits 64, short or long, and nothing is created" {
	local t
	for t in $TOOLS; do
		run -64 --separate-stderr "$t" info X -t
		[ "${stderr_lines[0]}" = "$t: option requires an argument -- 't'" ]
		[ "${stderr_lines[1]}" = "$(try_line "$t")" ]
		run -64 --separate-stderr "$t" info X --timeout
		[ "${stderr_lines[0]}" = "$t: option '--timeout' requires an argument" ]
		[ "${stderr_lines[1]}" = "$(try_line "$t")" ]
		run -64 --separate-stderr "$t" info X --dir
		[ "${stderr_lines[0]}" = "$t: option '--dir' requires an argument" ]
	done
	run -64 mplock acquire L --owner
	run -64 mpsem acquire S --owner
	[ ! -e "$MP_DIR" ] || [ -z "$(ls -A "$MP_DIR")" ]
}

@test "an argument given to an option that takes none exits 64" {
	local t
	for t in $TOOLS; do
		run -64 --separate-stderr "$t" info X --nonblock=yes
		[ "${stderr_lines[0]}" = "$t: option '--nonblock' doesn't allow an argument" ]
		[ "${stderr_lines[1]}" = "$(try_line "$t")" ]
	done
}

@test "the tools' own usage errors (bad value, unknown verb) are 64 with the Try line too" {
	local t
	for t in $TOOLS; do
		run -64 --separate-stderr "$t" info X -t soon
		[[ ${stderr_lines[0]} == "$t: "*"'soon'"* ]]
		[ "${stderr_lines[1]}" = "$(try_line "$t")" ]
	done
	# (mplock NAME CMD and mpspawn CMD take an unknown word for a name or
	# a command)
	for t in mpsem mpevent mpqueue; do
		run -64 --separate-stderr "$t" frobnicate X
		[[ ${stderr_lines[0]} == "$t: "*"frobnicate"* ]]
		[ "${stderr_lines[1]}" = "$(try_line "$t")" ]
	done
}

# ---- abbreviations, forms of arguments ----

@test "a long option may be abbreviated to a unique prefix, in every tool" {
	local t
	for t in $TOOLS; do
		run -0 "$t" --vers
		[[ $output == "$t (mptools) "* ]]
		run -0 "$t" --hel
		[[ $output == "Usage: $t"* ]]
		run -0 "$t" ls --verb --js
		[ "${output:0:1}" = "[" ]
	done
	# abbreviations have their effect
	mplock acquire L --owner none
	run -75 mplock acquire L --nonb --own none
	run -75 mplock acquire L --time=0 --own=none
	run -0 mplock acquire L --nonb --own none --dir "$BATS_TEST_TMPDIR/other"
	mpqueue put Q a b c
	run -0 mpqueue get Q --cou 2
	[ "$output" = $'a\nb' ]
	run -0 mpspawn --job 2 --nam ab -- true
	run -0 mpspawn status ab --json
	[[ $output == *'"nworkers":2'* ]]
}

@test "an ambiguous abbreviation exits 64 and names the possibilities" {
	local t
	for t in $TOOLS; do
		run -64 --separate-stderr "$t" --ver
		[[ ${stderr_lines[0]} == "$t: option '--ver' is ambiguous; possibilities:"* ]]
		[[ ${stderr_lines[0]} == *"'--verbose'"* ]]
		[[ ${stderr_lines[0]} == *"'--version'"* ]]
		[ "${stderr_lines[1]}" = "$(try_line "$t")" ]
	done
}

@test "-n, --nonblock and -t 0 mean 'do not wait' in every tool: 75" {
	local t
	mplock acquire L --owner none
	mpsem acquire S --owner none
	mpevent create E
	mpqueue create Q
	start_bg mpspawn --name G -- sleep 300
	wait_until 10 mpspawn is-alive G
	for o in -n --nonblock "-t 0" --timeout=0 -t0; do
		# shellcheck disable=SC2086 # $o is one or two words
		{
			run -75 mplock acquire L --owner none $o
			run -75 mpsem acquire S --owner none $o
			run -75 mpevent wait E $o
			run -75 mpqueue get Q $o
			run -75 mpspawn wait G $o
		}
	done
}

@test "arguments: attached, separate or after =; short options cluster" {
	mplock acquire L --owner none
	run -75 mplock acquire -t0 L --owner none
	run -75 mplock acquire L -t 0 --owner=none
	run -75 mplock -nx acquire L --owner none	# a cluster of short options
	run -75 mplock -xt0 acquire L --owner none	# a cluster ending with an argument
	run -0 mpsem create S -j2
	run -0 mpsem value S
	[ "$output" = 2 ]
}

@test "options may come before the verb, between the verb and NAME, and after NAME" {
	mplock acquire L --owner none
	run -75 mplock -n acquire L --owner none
	run -75 mplock acquire -n L --owner none
	run -75 mplock acquire L -n --owner none
	# and between the messages of a put
	run -0 mpqueue put Q one -q two
	run -0 mpqueue get Q --count 2
	[ "$output" = $'one\ntwo' ]
}

# ---- wrapped commands keep their own options ----

@test "mplock run L -- echo -n hi prints hi without a newline; so do mplock run L echo -n hi and mplock L echo -n hi" {
	run -0 bash -c 'mplock run L -- echo -n hi | od -An -c'
	[ "$(echo $output)" = "h i" ]
	run -0 bash -c 'mplock run L echo -n hi | od -An -c'
	[ "$(echo $output)" = "h i" ]
	run -0 bash -c 'mplock L echo -n hi | od -An -c'
	[ "$(echo $output)" = "h i" ]
}

@test "mpsem run S -- sh -c ... keeps the command's -c and its arguments that look like options" {
	run -0 mpsem run S -- sh -c 'echo "$0 [$1] [$2]"' a -n -j
	[ "$output" = "a [-n] [-j]" ]
	run -0 mpsem run S sh -c 'echo "$0 [$1]"' b --bogus
	[ "$output" = "b [--bogus]" ]
	run -0 bash -c 'mpsem run S echo -n hi | od -An -c'
	[ "$(echo $output)" = "h i" ]
}

@test "mpspawn -- echo -n x, and mpspawn echo -n x, print x without a newline" {
	run -0 bash -c 'mpspawn -- echo -n x | od -An -c'
	[ "$(echo $output)" = x ]
	run -0 bash -c 'mpspawn echo -n x | od -An -c'
	[ "$(echo $output)" = x ]
	run -0 mpspawn -j 1 -- sh -c 'echo "[$1]"' x -v
	[ "$output" = "[-v]" ]
}

@test "options after the command's first word belong to the command, in every wrap mode" {
	# Each of these options would change the tool's behaviour (or be a
	# usage error) if the tool took it.
	run -0 mplock run L printf '%s\n' --bogus -n -t 1 --help
	[ "$output" = $'--bogus\n-n\n-t\n1\n--help' ]
	run -0 mplock L printf '%s\n' --version -x
	[ "$output" = $'--version\n-x' ]
	run -0 mpsem run S printf '%s\n' -j 3 --bg
	[ "$output" = $'-j\n3\n--bg' ]
	run -0 mpspawn printf '%s\n' -j 2 --tag --name x
	[ "$output" = $'-j\n2\n--tag\n--name\nx' ]
	run -66 mpspawn status x	# no group named x was made
}

@test "-c STRING runs with /bin/sh -c in every wrap mode" {
	run -0 mplock run L -c 'echo "lock $#"'
	[ "$output" = "lock 0" ]
	run -0 mpsem run S -c 'echo "sem $#"'
	[ "$output" = "sem 0" ]
	run -0 mpspawn -c 'echo "spawn $#"'
	[ "$output" = "spawn 0" ]
	run -0 mplock run L --command 'exit 0'
	run -3 mpsem run S --command 'exit 3'
}

@test "-- ends the options: a command named like a verb or an option runs" {
	run -0 mplock run L -- sh -c 'echo "$0 $1"' -n -t
	[ "$output" = "-n -t" ]
	run -0 mpspawn -- kill -0 $$
	run -0 mplock run L -- true --help
	run -127 --separate-stderr mplock run L -- --bogus
}

@test "--dir '' and --store '' are usage errors (64), not a silent fall-back to another store" {
	local t
	for t in mplock mpsem mpevent mpqueue mpspawn mpvar; do
		run -64 --separate-stderr "$t" --dir '' ls
		[[ $stderr == *"--dir: must not be empty"* ]]
		run -64 --separate-stderr "$t" --store= ls
		[[ $stderr == *"--store: must not be empty"* ]]
	done
}
