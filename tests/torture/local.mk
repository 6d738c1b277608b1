# SPDX-License-Identifier: LGPL-2.1-or-later
# The test-only fault points (src/lib/fault.h, compiled in by
# --enable-fault-injection) and the kill -9 torture harness.
check_PROGRAMS += tests/torture/mptorture
tests_torture_mptorture_SOURCES = tests/torture/mptorture.c tests/torture/torture.h \
	tests/torture/util.c tests/torture/witness.c tests/torture/run.c \
	tests/torture/gates.c tests/torture/events.c tests/torture/queues.c \
	tests/torture/queues.h tests/torture/queue-check.c \
	tests/torture/vars.c tests/torture/ns.c tests/torture/users.c
tests_torture_mptorture_LDADD = -lm
tests_torture_mptorture_LDFLAGS = $(STATIC_LINK)

TESTS += tests/torture.bats

# The long run: make torture [TORTURE_SECONDS=300] [TORTURE_FLAGS='-k lock,sem -v']
# In a build configured with --enable-fault-injection the tools also kill
# themselves at fault points (MP_FAULT='*:0.002' unless --fault says).
torture: all tests/torture/mptorture
	tests/torture/mptorture --bin '$(abs_top_builddir)/src' \
		-t "$${TORTURE_SECONDS:-300}" $(TORTURE_FLAGS)
.PHONY: torture
