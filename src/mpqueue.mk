# SPDX-License-Identifier: LGPL-2.1-or-later
# mpqueue: everything the build knows about it (program, library module,
# tests, man page, completions).  Included from Makefile.am.
bin_PROGRAMS += src/mpqueue
src_mpqueue_SOURCES = src/mpqueue.c
src_mpqueue_LDADD = $(LIBMP)
src_mpqueue_LDFLAGS = $(STATIC_LINK)
TESTS += tests/mpqueue.bats tests/mpqueue-on-redis.redis
check_PROGRAMS += tests/unit/t-queue tests/unit/t-queue-stress
tests_unit_t_queue_SOURCES = tests/unit/t-queue.c
tests_unit_t_queue_LDADD = $(LIBMP)
tests_unit_t_queue_stress_SOURCES = tests/unit/t-queue-stress.c
tests_unit_t_queue_stress_LDADD = $(LIBMP)

dist_man_MANS += man/mpqueue.1
dist_bashcomp_DATA += completions/bash/mpqueue
dist_zshcomp_DATA += completions/zsh/_mpqueue
dist_fishcomp_DATA += completions/fish/mpqueue.fish
dist_examples_SCRIPTS += examples/producer-consumer.sh examples/joinable.sh
