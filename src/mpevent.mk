# SPDX-License-Identifier: LGPL-2.1-or-later
# mpevent: everything the build knows about it (program, library module,
# tests, man page, completions).  Included from Makefile.am.
bin_PROGRAMS += src/mpevent
src_mpevent_SOURCES = src/mpevent.c
src_mpevent_LDADD = $(LIBMP)
src_mpevent_LDFLAGS = $(STATIC_LINK)

TESTS += tests/mpevent.bats tests/mpevent-on-redis.redis
check_PROGRAMS += tests/unit/t-event
tests_unit_t_event_SOURCES = tests/unit/t-event.c
tests_unit_t_event_LDADD = $(LIBMP)

dist_man_MANS += man/mpevent.1
dist_bashcomp_DATA += completions/bash/mpevent
dist_zshcomp_DATA += completions/zsh/_mpevent
dist_fishcomp_DATA += completions/fish/mpevent.fish
dist_examples_SCRIPTS += examples/traffic-light.sh
EXTRA_DIST += bench/event_wake.c
