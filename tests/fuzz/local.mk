# SPDX-License-Identifier: LGPL-2.1-or-later
# Fuzz targets (see tests/fuzz/fuzz.h).  make check builds them: libFuzzer
# binaries with --enable-fuzzing, plain drivers that replay files
# otherwise; tests/fuzz.bats replays the corpus through them.
# `make fuzz FUZZ_SECONDS=60` fuzzes each target for that long;
# `make fuzz-corpus` remakes the committed corpus (seeds + what fuzzing
# found, minimised).  Both need --enable-fuzzing.
FUZZ_TARGETS = \
	tests/fuzz/fuzz-lock \
	tests/fuzz/fuzz-sem \
	tests/fuzz/fuzz-event \
	tests/fuzz/fuzz-queue \
	tests/fuzz/fuzz-spawn \
	tests/fuzz/fuzz-var \
	tests/fuzz/fuzz-parse
check_PROGRAMS += $(FUZZ_TARGETS)

# The library's mappings become exact-size heap copies (harness.c).
FUZZ_LINK = $(FUZZ_LDFLAGS) -Wl,--wrap=mmap -Wl,--wrap=munmap
FUZZ_COMMON = tests/fuzz/harness.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_lock_SOURCES = tests/fuzz/fuzz-lock.c $(FUZZ_COMMON)
tests_fuzz_fuzz_lock_LDADD = $(LIBMP)
tests_fuzz_fuzz_lock_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_sem_SOURCES = tests/fuzz/fuzz-sem.c $(FUZZ_COMMON)
tests_fuzz_fuzz_sem_LDADD = $(LIBMP)
tests_fuzz_fuzz_sem_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_event_SOURCES = tests/fuzz/fuzz-event.c $(FUZZ_COMMON)
tests_fuzz_fuzz_event_LDADD = $(LIBMP)
tests_fuzz_fuzz_event_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_queue_SOURCES = tests/fuzz/fuzz-queue.c $(FUZZ_COMMON)
tests_fuzz_fuzz_queue_LDADD = $(LIBMP)
tests_fuzz_fuzz_queue_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_spawn_SOURCES = tests/fuzz/fuzz-spawn.c $(FUZZ_COMMON)
tests_fuzz_fuzz_spawn_LDADD = $(LIBMP)
tests_fuzz_fuzz_spawn_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_var_SOURCES = tests/fuzz/fuzz-var.c $(FUZZ_COMMON)
tests_fuzz_fuzz_var_LDADD = $(LIBMP)
tests_fuzz_fuzz_var_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_parse_SOURCES = tests/fuzz/fuzz-parse.c $(FUZZ_COMMON)
tests_fuzz_fuzz_parse_LDADD = $(LIBMP)
tests_fuzz_fuzz_parse_LDFLAGS = $(FUZZ_LINK)

TESTS += tests/fuzz.bats
EXTRA_DIST += tests/fuzz/run tests/fuzz/mkseeds tests/fuzz/corpus

FUZZ_SECONDS = 60
FUZZ_RUN = $(SHELL) $(top_srcdir)/tests/fuzz/run --srcdir '$(top_srcdir)' --builddir '$(abs_top_builddir)'

fuzz: $(FUZZ_TARGETS) $(bin_PROGRAMS)
if FUZZING
	$(FUZZ_RUN) --seconds $(FUZZ_SECONDS) fuzz
else
	@echo "make fuzz: configure with --enable-fuzzing (clang) first" >&2; exit 1
endif

fuzz-corpus: $(FUZZ_TARGETS) $(bin_PROGRAMS)
if FUZZING
	$(FUZZ_RUN) corpus
else
	@echo "make fuzz-corpus: configure with --enable-fuzzing (clang) first" >&2; exit 1
endif

.PHONY: fuzz fuzz-corpus
