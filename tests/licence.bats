#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The licence: COPYING is the LGPL 2.1, and every tracked source file says
# LGPL-2.1-or-later in its first lines (build-aux/spdx-check), so a new
# file without the line fails here.
load helpers/common

SPDX_CHECK="$MP_TOP_SRCDIR/build-aux/spdx-check"

@test "COPYING is the GNU Lesser General Public License, version 2.1" {
	run -0 head -n 2 "$MP_TOP_SRCDIR/COPYING"
	[[ $output == *"GNU LESSER GENERAL PUBLIC LICENSE"* ]]
	[[ $output == *"Version 2.1, February 1999"* ]]
}

@test "every tracked source file carries the SPDX line (build-aux/spdx-check)" {
	command -v git >/dev/null || skip "git is not installed"
	run "$SPDX_CHECK" "$MP_TOP_SRCDIR"
	[ "$status" = 2 ] && skip "not a git checkout (a release tarball): no tracked files"
	echo "lacking 'SPDX-License-Identifier: LGPL-2.1-or-later' in their first 3 lines:"
	echo "$output"
	[ "$status" = 0 ]
}

@test "spdx-check names a new file without the line, and --add puts it where each syntax wants it" {
	command -v git >/dev/null || skip "git is not installed"
	local r=$BATS_TEST_TMPDIR/repo
	mkdir -p "$r/src" "$r/man" "$r/completions/zsh" "$r/build-aux"
	git -C "$r" init -q
	printf 'int x;\n' >"$r/src/new.c"
	printf '.Dd today\n' >"$r/man/new.1"
	printf '#compdef new\n_new() { :; }\n' >"$r/completions/zsh/_new"
	printf '#!/bin/sh\necho hi\n' >"$r/build-aux/tool"
	chmod +x "$r/build-aux/tool"
	printf '# notes\n' >"$r/NOTES.md"
	git -C "$r" add .
	run -1 "$SPDX_CHECK" "$r"
	[ "$(sort <<<"$output")" = "$(printf '%s\n' build-aux/tool completions/zsh/_new man/new.1 src/new.c)" ]
	run -0 "$SPDX_CHECK" --add "$r"
	run -0 "$SPDX_CHECK" "$r"
	[ "$(head -n 1 "$r/src/new.c")" = "/* SPDX-License-Identifier: LGPL-2.1-or-later */" ]
	[ "$(head -n 1 "$r/man/new.1")" = '.\" SPDX-License-Identifier: LGPL-2.1-or-later' ]
	[ "$(head -n 2 "$r/completions/zsh/_new")" = $'#compdef new\n# SPDX-License-Identifier: LGPL-2.1-or-later' ]
	[ "$(head -n 2 "$r/build-aux/tool")" = $'#!/bin/sh\n# SPDX-License-Identifier: LGPL-2.1-or-later' ]
	[ -x "$r/build-aux/tool" ]
	[ "$(cat "$r/NOTES.md")" = "# notes" ]
}
