# SPDX-License-Identifier: LGPL-2.1-or-later
# mplock: everything the build knows about it (program, tests, man page,
# completions).  Included from Makefile.am.
bin_PROGRAMS += src/mplock
src_mplock_SOURCES = src/mplock.c
src_mplock_LDADD = $(LIBMP)
src_mplock_LDFLAGS = $(STATIC_LINK)

TESTS += tests/mplock.bats tests/mplock-on-redis.redis
dist_man_MANS += man/mplock.1
dist_bashcomp_DATA += completions/bash/mplock
dist_zshcomp_DATA += completions/zsh/_mplock
dist_fishcomp_DATA += completions/fish/mplock.fish
