#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The grammars of names, durations, sizes and counts (src/lib/parse.c).
load helpers/common

@test "names of 1-200 bytes of [A-Za-z0-9._-] are accepted" {
	for n in a db build-42 x.y_z A.-_9 "$(printf 'n%.0s' {1..200})"; do
		run -0 t-parse name "$n"
	done
}

@test "a bad name is refused with the offending character and its position" {
	run -1 t-parse name 'a/b'
	[[ $output == *"'/' at position 2"* ]]
	run -1 t-parse name 'x y'
	[[ $output == *"position 2"* ]]
	run -1 t-parse name '.hidden'
	[[ $output == *"cannot start with '.'"* ]]
	run -1 t-parse name ''
	run -1 t-parse name "$(printf 'n%.0s' {1..201})"
	[[ $output == *"longer than 200"* ]]
	run -1 t-parse name $'caf\xc3\xa9'
	[[ $output == *"byte 0xc3"* ]]
}

@test "durations take ms, s, m, h, d suffixes and fractions; seconds by default" {
	run -0 t-parse duration 250ms;	[ "$output" = 250000000 ]
	run -0 t-parse duration 1.5;	[ "$output" = 1500000000 ]
	run -0 t-parse duration 0.25;	[ "$output" = 250000000 ]
	run -0 t-parse duration .5s;	[ "$output" = 500000000 ]
	run -0 t-parse duration 2m;	[ "$output" = 120000000000 ]
	run -0 t-parse duration 1.5m;	[ "$output" = 90000000000 ]
	run -0 t-parse duration 1h;	[ "$output" = 3600000000000 ]
	run -0 t-parse duration 1d;	[ "$output" = 86400000000000 ]
	run -0 t-parse duration 0;	[ "$output" = 0 ]
	run -0 t-parse duration 0.001ms; [ "$output" = 1000 ]
}

@test "a duration shorter than a nanosecond but not zero is a nanosecond, not zero" {
	run -0 t-parse duration 0.0000000001;	[ "$output" = 1 ]
	run -0 t-parse duration 0.000000000000ms;	[ "$output" = 0 ]
	run -0 t-parse duration 0.0000001ms;	[ "$output" = 1 ]
	run -0 t-parse duration 0.0000000000;	[ "$output" = 0 ]
	# so -t that short times out (124), where -t 0 is -n (75)
	mplock acquire L --owner none
	run -124 mplock acquire L -t 0.0000000001
	run -75 mplock acquire L -t 0
}

@test "bad durations are refused with a reason" {
	for d in '' -1 1x 1.5.5 abc 1e3 '1 s' 1. 99999999999d; do
		run -1 t-parse duration "$d"
		[ -n "$output" ]
	done
}

@test "sizes take K, M, G as powers of 1024" {
	run -0 t-parse size 4096;	[ "$output" = 4096 ]
	run -0 t-parse size 64K;	[ "$output" = 65536 ]
	run -0 t-parse size 2M;		[ "$output" = 2097152 ]
	run -0 t-parse size 1G;		[ "$output" = 1073741824 ]
	run -0 t-parse size 1MiB;	[ "$output" = 1048576 ]
	for s in '' 1.5M -1 1X K 2000T; do
		run -1 t-parse size "$s"
	done
}

@test "counts must be whole numbers within range" {
	run -0 t-parse count 3;		[ "$output" = 3 ]
	run -1 t-parse count 0
	[[ $output == *"out of range 1-1000"* ]]
	run -1 t-parse count 1001
	run -1 t-parse count 3x
	run -1 t-parse count 99999999999999999999999
}
