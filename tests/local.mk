# SPDX-License-Identifier: LGPL-2.1-or-later
# bats-core suites, run through automake's TAP driver.
TEST_EXTENSIONS = .bats .redis
BATS_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
BATS_LOG_COMPILER = $(BATS)
AM_BATS_LOG_FLAGS = --tap
# the same suites on a Redis server of their own (tests/with-redis)
REDIS_LOG_DRIVER = $(BATS_LOG_DRIVER)
REDIS_LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/with-redis
AM_TESTS_ENVIRONMENT = \
	MP_TOP_BUILDDIR='$(abs_top_builddir)'; export MP_TOP_BUILDDIR; \
	MP_TOP_SRCDIR='$(abs_top_srcdir)'; export MP_TOP_SRCDIR;

TESTS += \
	tests/parse.bats \
	tests/args.bats \
	tests/common.bats \
	tests/store.bats \
	tests/owner.bats \
	tests/namespace.bats \
	tests/hostile.bats \
	tests/stopped.bats \
	tests/spawn-records.bats \
	tests/examples.bats \
	tests/daily.bats \
	tests/docs.bats \
	tests/install.bats \
	tests/libmptools.bats \
	tests/python.bats \
	tests/licence.bats

check_PROGRAMS += tests/unit/t-parse tests/unit/t-store tests/unit/t-owner
tests_unit_t_parse_SOURCES = tests/unit/t-parse.c
tests_unit_t_parse_LDADD = $(LIBMP)
tests_unit_t_store_SOURCES = tests/unit/t-store.c
tests_unit_t_store_LDADD = $(LIBMP)
tests_unit_t_owner_SOURCES = tests/unit/t-owner.c
tests_unit_t_owner_LDADD = $(LIBMP)

TESTS += tests/redis-store.redis tests/libmptools-on-redis.redis tests/python-on-redis.redis tests/stopped-on-redis.redis
EXTRA_DIST += $(TESTS) tests/redis.bats tests/with-redis tests/helpers/common.bash tests/helpers/posix-sem.py \
	tests/helpers/complete tests/valgrind.sh \
	tests/unit/mutex-word.h
