# SPDX-License-Identifier: LGPL-2.1-or-later
# mptools: the front command (ls of every kind, gc, version): program,
# tests, man page, completions.  Included from Makefile.am.
bin_PROGRAMS += src/mptools
src_mptools_SOURCES = src/mptools.c
src_mptools_LDADD = $(LIBMP)
src_mptools_LDFLAGS = $(STATIC_LINK)

TESTS += tests/mptools.bats
dist_man_MANS += man/mptools.1
dist_bashcomp_DATA += completions/bash/mptools
dist_zshcomp_DATA += completions/zsh/_mptools
dist_fishcomp_DATA += completions/fish/mptools.fish
