#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# make install (into a DESTDIR): the tools, man pages, examples and
# completions land where configure said, a new bash, zsh and fish complete
# the installed tools from the installed files, and with the default
# prefix those directories are ones the shells search with no set-up.
load helpers/common

TOOLS="mplock mpsem mpevent mpqueue mpspawn"

setup_file() {
	D=$BATS_FILE_TMPDIR/root
	export D
	# a make inside make check: not the outer make's jobserver
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -s -C "$MP_TOP_BUILDDIR" install DESTDIR="$D" >"$BATS_FILE_TMPDIR/install.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/install.log" >&3
		return 1
	}
}

# installed PATTERN: the one installed file whose path (under $D) matches
# PATTERN, e.g. '*/bash-completion/completions/mplock'
installed() {
	local f
	f=$(find "$D" -path "$D$1" -type f | head -n 1)
	[ -n "$f" ] || {
		echo "nothing installed matches $1" >&2
		return 1
	}
	echo "$f"
}

# the directory of the installed file matching PATTERN, as it is after
# installation (without $D)
installed_dir() {
	local f
	f=$(installed "$1") || return 1
	f=${f%/*}
	echo "${f#"$D"}"
}

# complete_with SHELL LINE DIR: the installed tools first in PATH
complete_with() {
	local bindir
	bindir=$(installed_dir '*/bin/mplock') || return 1
	PATH="$D$bindir:$PATH" "$MP_TOP_SRCDIR/tests/helpers/complete" "$@"
}

configured_prefix() {
	sed -n 's/^prefix = //p' "$MP_TOP_BUILDDIR/Makefile"
}

@test "make install installs the tools, man pages, README, examples and completions" {
	local t
	for t in $TOOLS; do
		installed "*/bin/$t"
		[ -x "$(installed "*/bin/$t")" ]
		installed "*/man/man1/$t.1"
		installed "*/bash-completion/completions/$t"
		installed "*/_$t"
		installed "*/$t.fish"
	done
	installed '*/man/man7/mptools.7'
	installed '*/doc/mptools/README.md'
	[ -x "$(installed '*/doc/mptools/examples/demo.sh')" ]
	installed '*/doc/mptools/examples/ktv.sh'
	# the front command, and the systemd and cron examples
	[ -x "$(installed '*/bin/mptools')" ]
	installed '*/man/man1/mptools.1'
	installed '*/bash-completion/completions/mptools'
	installed '*/_mptools'
	installed '*/mptools.fish'
	installed '*/doc/mptools/examples/crontab'
	installed '*/doc/mptools/examples/systemd/backup.timer'
	installed '*/doc/mptools/examples/systemd/mptools.conf'
}

@test "a new bash completes the installed tools' verbs and options from the installed files" {
	local t dir
	[ -r /usr/share/bash-completion/bash_completion ] ||
		skip "bash-completion is not installed (apt-get install bash-completion)"
	dir=$(installed_dir '*/bash-completion/completions/mplock')
	for t in $TOOLS; do
		run -0 complete_with bash "$t " "$D$dir"
		[[ $output == *create* && $output == *info* ]]
	done
	run -0 complete_with bash "mplock " "$D$dir"
	[[ $output == *is-locked* ]]
	run -0 complete_with bash "mplock --non" "$D$dir"
	[[ $output == *--nonblock* ]]
	run -0 complete_with bash "mptools " "$D$dir"
	[[ $output == *gc* && $output == *version* ]]
}

@test "a new zsh completes the installed tools' verbs and options from the installed files" {
	local t dir
	command -v zsh >/dev/null || skip "zsh is not installed"
	dir=$(installed_dir '*/_mplock')
	for t in $TOOLS; do
		run -0 complete_with zsh "$t " "$D$dir"
		[[ $output == *create* && $output == *info* ]]
	done
	run -0 complete_with zsh "mplock " "$D$dir"
	[[ $output == *is-locked* ]]
	run -0 complete_with zsh "mplock --non" "$D$dir"
	[[ $output == *--nonblock* ]]
	run -0 complete_with zsh "mptools " "$D$dir"
	[[ $output == *gc* && $output == *version* ]]
}

@test "a new fish completes the installed tools' verbs and options from the installed files" {
	local t dir
	command -v fish >/dev/null || skip "fish is not installed"
	dir=$(installed_dir '*/mplock.fish')
	for t in $TOOLS; do
		run -0 complete_with fish "$t " "$D$dir"
		[[ $output == *create* && $output == *info* ]]
	done
	run -0 complete_with fish "mplock " "$D$dir"
	[[ $output == *is-locked* ]]
	run -0 complete_with fish "mplock --non" "$D$dir"
	[[ $output == *--nonblock* ]]
	run -0 complete_with fish "mptools " "$D$dir"
	[[ $output == *gc* && $output == *version* ]]
}

@test "with the default prefix the completions go where bash, zsh and fish look by default" {
	local prefix dir
	prefix=$(configured_prefix)
	[ "$prefix" = /usr/local ] || skip "configured with --prefix=$prefix, not the default"
	dir=$(installed_dir '*/bash-completion/completions/mplock')
	# bash-completion: */bash-completion/completions of XDG_DATA_DIRS,
	# whose default is /usr/local/share:/usr/share
	case $dir in
	/usr/local/share/bash-completion/completions | /usr/share/bash-completion/completions) ;;
	*) echo "bash: $dir is not searched" && false ;;
	esac
	if command -v zsh >/dev/null; then
		dir=$(installed_dir '*/_mplock')
		env -u FPATH zsh -fc 'print -l $fpath' | grep -qxF "$dir" || {
			echo "zsh: $dir is not in fpath"
			false
		}
	fi
	if command -v fish >/dev/null; then
		dir=$(installed_dir '*/mplock.fish')
		env -u XDG_DATA_DIRS fish -c 'printf "%s\n" $fish_complete_path' | grep -qxF "$dir" || {
			echo "fish: $dir is not in fish_complete_path"
			false
		}
	fi
}

@test "make install installs libmptools, its header, mptools.pc and mptools(3), and a program builds against them" {
	local pc inc lib
	# a library built with ASan needs its runtime in the program too
	if grep -q '^CFLAGS = .*-fsanitize=address' "$MP_TOP_BUILDDIR/Makefile" 2>/dev/null; then
		skip "libmptools is built with ASan (--enable-sanitizers): a plain cc program cannot link it"
	fi
	installed '*/man/man3/mptools.3'
	installed '*/examples/c/producer.c'
	inc=$(installed_dir '*/include/mptools.h')
	lib=$(installed_dir '*/libmptools.so.0.0.0')
	pc=$(installed_dir '*/pkgconfig/mptools.pc')
	[ -L "$D$lib/libmptools.so" ] && [ -L "$D$lib/libmptools.so.0" ]
	# pkg-config, with the installed prefix moved under $D
	run -0 env PKG_CONFIG_PATH="$D$pc" PKG_CONFIG_SYSROOT_DIR="$D" pkg-config --cflags --libs mptools
	[[ "$output" == *"-I$D$inc"* ]]
	# shellcheck disable=SC2086 # a word list
	cc -o "$BATS_TEST_TMPDIR/producer" "$(installed '*/examples/c/producer.c')" $output
	run -0 env LD_LIBRARY_PATH="$D$lib" "$BATS_TEST_TMPDIR/producer" q one
	run -0 mpqueue get q
	[ "$output" = one ]
}
