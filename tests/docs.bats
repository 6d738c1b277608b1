#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every long option a tool prints in --help is documented in its man page
# and offered by its bash, zsh and fish completions.
load helpers/common

tools() {
	local t
	for t in mplock mpsem mpevent mpqueue mpspawn mpvar; do
		[ -x "$MP_TOP_BUILDDIR/src/$t" ] && echo "$t"
	done
}

@test "every long option of --help is in the man page and in each completion" {
	local t o f missing=
	[ -n "$(tools)" ]
	for t in $(tools); do
		for o in $("$t" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
			case $o in --help | --usage | --version) continue ;; esac
			for f in man/$t.1 completions/bash/$t completions/zsh/_$t completions/fish/$t.fish; do
				if [ ! -f "$MP_TOP_SRCDIR/$f" ]; then
					missing="$missing $f(missing)"
				elif ! grep -q -- "${o#--}" "$MP_TOP_SRCDIR/$f"; then
					missing="$missing $t:$o:$f"
				fi
			done
		done
	done
	echo "missing:$missing"
	[ -z "$missing" ]
}

# help_pairs TOOL: "X LONG" for each "-X, --LONG" of TOOL --help, and
# "- LONG" for each long option without a short one.
help_pairs() {
	"$1" --help | sed -nE 's/^  -([A-Za-z?]), --([a-z][a-z0-9-]*).*/\1 \2/p
		s/^      --([a-z][a-z0-9-]*).*/- \1/p' | sort -u
}

# doc_pairs FILE: "X LONG" for each short option X that FILE (a man page
# or a bash, zsh or fish completion) gives as the same option as --LONG.
doc_pairs() {
	case $1 in
	*.1) sed -nE 's/^\.It Fl ([A-Za-z?]) , Fl \\?-([a-z][a-z0-9-]*).*/\1 \2/p' "$1" ;;
	*/zsh/*) grep -oE '\{-[A-Za-z?]\+?,--[a-z][a-z0-9-]*' "$1" | sed -E 's/\{-(.)\+?,--/\1 /' ;;
	*.fish) grep -oE -- '-s [A-Za-z?] -l [a-z][a-z0-9-]*' "$1" | sed -E 's/-s (.) -l /\1 /' ;;
	*) grep -oE -- "(^|[ '\"])-[A-Za-z?] --[a-z][a-z0-9-]*" "$1" |
		sed -E "s/^[ '\"]?-(.) --/\1 /" ;;
	esac | sort -u
}

@test "one meaning per option letter: a short option names the same long option in every tool" {
	local t x l bad=
	declare -A long_of
	for t in $(tools); do
		while read -r x l; do
			[ "$x" = - ] && continue
			if [ -n "${long_of[$x]:-}" ] && [ "${long_of[$x]}" != "$l" ]; then
				bad="$bad -$x:${long_of[$x]}/$t:$l"
			fi
			long_of[$x]=$l
		done < <(help_pairs "$t")
	done
	echo "letters with two meanings:$bad"
	[ -z "$bad" ]
	# DESIGN.md §3: -n never waits, -t bounds a wait, -j is a count of
	# slots or workers, -c is a command string
	[ "${long_of[n]}" = nonblock ]
	[ "${long_of[t]}" = timeout ]
	[ "${long_of[j]}" = jobs ]
	[ "${long_of[c]}" = command ]
}

@test "the man page and each completion pair short and long options as --help does" {
	local t f x l hp dp bad=
	for t in $(tools); do
		hp=$(help_pairs "$t")
		for f in man/$t.1 completions/bash/$t completions/zsh/_$t completions/fish/$t.fish; do
			[ -f "$MP_TOP_SRCDIR/$f" ] || continue	# the test above reports it
			dp=$(doc_pairs "$MP_TOP_SRCDIR/$f")
			# what the file pairs, --help pairs (an old letter is caught here)
			while read -r x l; do
				[ -n "$x" ] || continue
				[ "$l" = help ] && [[ $x == [h?] ]] && continue	# argp's -? and our -h
				grep -qxF -- "$x $l" <<<"$hp" || bad="$bad $f:-$x,--$l"
			done <<<"$dp"
			# and each short option of --help is in the file with its long one
			while read -r x l; do
				[ "$x" = - ] || [ "$l" = help ] && continue
				grep -qxF -- "$x $l" <<<"$dp" || bad="$bad $f:lacks:-$x,--$l"
			done <<<"$hp"
		done
	done
	echo "mismatched:$bad"
	[ -z "$bad" ]
}

@test "every verb in --help is in the man page" {
	local t v missing=
	for t in $(tools); do
		for v in $("$t" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'); do
			grep -q -- "$v" "$MP_TOP_SRCDIR/man/$t.1" || missing="$missing $t:$v"
		done
	done
	echo "missing:$missing"
	[ -z "$missing" ]
}

@test "the man pages have no mdoc errors" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	run mandoc -Tlint -Werror "$MP_TOP_SRCDIR"/man/*.[137]
	echo "$output"
	[ "$status" -lt 3 ]
}

@test "the completion scripts parse" {
	local f
	for f in "$MP_TOP_SRCDIR"/completions/bash/*; do bash -n "$f"; done
	if command -v zsh >/dev/null; then
		for f in "$MP_TOP_SRCDIR"/completions/zsh/_*; do zsh -n "$f"; done
	fi
	if command -v fish >/dev/null; then
		for f in "$MP_TOP_SRCDIR"/completions/fish/*.fish; do fish -n "$f"; done
	fi
}
