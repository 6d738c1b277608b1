# SPDX-License-Identifier: LGPL-2.1-or-later
# mpvar: everything the build knows about it (program, tests, man page,
# completions).  Included from Makefile.am.
bin_PROGRAMS += src/mpvar
src_mpvar_SOURCES = src/mpvar.c
src_mpvar_LDADD = $(LIBMP)
src_mpvar_LDFLAGS = $(STATIC_LINK)

TESTS += tests/mpvar.bats tests/mpvar-on-redis.redis

dist_man_MANS += man/mpvar.1
dist_bashcomp_DATA += completions/bash/mpvar
dist_zshcomp_DATA += completions/zsh/_mpvar
dist_fishcomp_DATA += completions/fish/mpvar.fish
