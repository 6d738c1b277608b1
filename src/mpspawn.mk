# SPDX-License-Identifier: LGPL-2.1-or-later
# mpspawn: everything the build knows about it (program, library module,
# tests, man page, completions).  Included from Makefile.am.
bin_PROGRAMS += src/mpspawn
src_mpspawn_SOURCES = src/mpspawn.c
src_mpspawn_LDADD = $(LIBMP)
src_mpspawn_LDFLAGS = $(STATIC_LINK)
TESTS += tests/mpspawn.bats tests/mpspawn-listen.bats tests/mpspawn-order.bats
# (a .redis file named as a .bats would share its log, tests/X.log, and not run)
TESTS += tests/mpspawn-on-redis.redis tests/mpspawn-listen-on-redis.redis tests/mpspawn-order-on-redis.redis
dist_man_MANS += man/mpspawn.1
dist_bashcomp_DATA += completions/bash/mpspawn
dist_zshcomp_DATA += completions/zsh/_mpspawn
dist_fishcomp_DATA += completions/fish/mpspawn.fish
dist_examples_SCRIPTS += examples/pool.sh examples/daemon.sh examples/tcp-server.sh
