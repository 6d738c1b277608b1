#!/usr/bin/env bats
# The command-line parser every tool shares (src/lib/args.c): what argp
# gave the tools before, now in our own code so that musl builds it too.
load helpers/common

@test "an unknown option, a missing or unwanted argument is a usage error, 64, with a hint" {
	run -64 --separate-stderr mplock --bogus run L true
	[[ $stderr == "mplock: unrecognized option '--bogus'"* ]]
	[[ $stderr == *"Try 'mplock --help' for more information."* ]]
	run -64 --separate-stderr mpsem -Z value S
	[[ $stderr == *"invalid option -- 'Z'"* ]]
	run -64 --separate-stderr mplock acquire L --owner
	[ -z "$(ls "$MP_DIR")" ]	# nothing was done
	run -64 --separate-stderr mplock acquire L --timeout
	[[ $stderr == *"option '--timeout' requires an argument"* ]]
	run -64 --separate-stderr mplock acquire L -t
	[[ $stderr == *"option requires an argument -- 't'"* ]]
	run -64 --separate-stderr mplock acquire L --nonblock=yes
	[[ $stderr == *"option '--nonblock' doesn't allow an argument"* ]]
}

@test "a long option may be abbreviated to a unique prefix; an ambiguous one is refused" {
	mplock acquire L --owner none
	run -75 mplock acquire L --nonb --owner none
	run -75 mplock acquire L --time=0 --own=none
	run -64 --separate-stderr mplock --ver
	[[ $stderr == *"option '--ver' is ambiguous"* ]]
	run -0 mplock --versi
	[[ $output == "mplock (mptools) "* ]]
}

@test "arguments: attached, separate or after =; options anywhere before the command" {
	mplock acquire L --owner none
	run -75 mplock acquire -t0 L --owner none
	run -75 mplock acquire L -t 0 --owner=none
	run -75 mplock -nx acquire L --owner none	# a cluster of short options
	# options between the messages of a put
	run -0 mpqueue put Q one -q two
	run -0 mpqueue get Q -c 2
	[ "$output" = "$(printf 'one\ntwo')" ]
}

@test "-- ends the options, and the wrapped command's own options are its own" {
	run -0 mplock run L -- sh -c 'echo "$0 $1"' -n -t
	[ "$output" = "-n -t" ]
	run -0 mplock run L printf '%s\n' --bogus
	[ "$output" = "--bogus" ]
	run -0 mpspawn -n 1 -- sh -c 'echo "[$1]"' x -v
	[ "$output" = "[-v]" ]
}

@test "--help, -?, -h, --usage and --version print on stdout and exit 0" {
	for t in mplock mpsem mpevent mpqueue mpspawn; do
		run -0 --separate-stderr "$t" --help
		[[ $output == "Usage: $t [OPTION...]"* ]]
		[[ $output == *" Common options:"* ]]
		[[ $output == *"  -?, --help "* ]]
		[ -z "$stderr" ]
		run -0 "$t" -?
		[[ $output == "Usage: $t"* ]]
		run -0 "$t" --usage
		[[ $output == "Usage: $t [OPTION...]"* ]]
		[[ $output != *"Common options"* ]]
		run -0 "$t" --version
		[[ $output == "$t (mptools) "* ]]
	done
	run -0 mplock -h
	[[ $output == "Usage: mplock"* ]]
}

@test "--help lists options by group, sorted, with the text wrapped at 79 columns" {
	for t in mplock mpsem mpevent mpqueue mpspawn; do
		run -0 "$t" --help
		long=$(printf '%s\n' "${lines[@]}" | awk 'length > 79 && !/^(Usage|  or)/' | head -n 1)
		[ -z "$long" ]
	done
	run -0 mplock --help
	# -c, -s, -x come in that order, then the long-only ones of the group
	c=$(printf '%s\n' "${lines[@]}" | grep -n -- '-c, --command' | cut -d: -f1)
	s=$(printf '%s\n' "${lines[@]}" | grep -n -- '-s, --shared' | cut -d: -f1)
	x=$(printf '%s\n' "${lines[@]}" | grep -n -- '-x, --exclusive' | cut -d: -f1)
	[ "$c" -lt "$s" ] && [ "$s" -lt "$x" ]
	# a doc longer than a line goes on, indented to the doc column
	[[ $output == *$'coexists with other shared\n                             holders'* ]]
}
