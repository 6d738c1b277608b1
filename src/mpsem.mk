# SPDX-License-Identifier: LGPL-2.1-or-later
# mpsem: everything the build knows about it (program, library module,
# tests, man page, completions).  Included from Makefile.am.
bin_PROGRAMS += src/mpsem
src_mpsem_SOURCES = src/mpsem.c
src_mpsem_LDADD = $(LIBMP)
src_mpsem_LDFLAGS = $(STATIC_LINK)
TESTS += tests/mpsem.bats tests/mpsem-on-redis.redis
check_PROGRAMS += tests/unit/t-posix-sem tests/unit/t-sem
tests_unit_t_sem_SOURCES = tests/unit/t-sem.c
tests_unit_t_sem_LDADD = $(LIBMP)
tests_unit_t_posix_sem_SOURCES = tests/unit/t-posix-sem.c
# plain libc, as a program written without mptools would be
tests_unit_t_posix_sem_LDFLAGS = -pthread

dist_man_MANS += man/mpsem.1
dist_bashcomp_DATA += completions/bash/mpsem
dist_zshcomp_DATA += completions/zsh/_mpsem
dist_fishcomp_DATA += completions/fish/mpsem.fish
dist_examples_SCRIPTS += examples/ktv.sh
