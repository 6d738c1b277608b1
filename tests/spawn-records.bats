#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# mpspawn's group records under attack (issue 22): failed messages and
# restarts, fronts killed, records from other pid namespaces, damaged ones.
load helpers/common

@test "a pool's status is that of its first failed message, with or without --restart" {
	local_store_only
	local r
	for r in "" "--restart on-failure"; do
		mpqueue rm Q 2>/dev/null || true
		mpqueue put Q 1 2 3 4
		mpqueue close Q
		# shellcheck disable=SC2086
		run -5 --separate-stderr mpspawn --name G -j 1 --queue Q $r -- \
			sh -c 'case $1 in 2) exit 5;; 4) exit 6;; esac' sh
		[[ $stderr == *"2 of 4 messages failed (the first with status 5)"* ]]
		run -0 mpspawn status G
		[[ $output == *"exit status 5"* ]]
		run -5 mpspawn wait G
	done
}
