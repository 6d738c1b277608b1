#!/usr/bin/env bats
# Every long option a tool prints in --help is documented in its man page
# and offered by its bash, zsh and fish completions.
load helpers/common

tools() {
	local t
	for t in mplock mpsem mpevent mpqueue mpspawn; do
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
	run mandoc -Tlint -Werror "$MP_TOP_SRCDIR"/man/*.[17]
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
