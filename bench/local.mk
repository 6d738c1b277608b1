# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmarks: not part of make check (no timed assertions in the tests).
EXTRA_DIST += bench/.gitignore bench/run bench/README.md bench/floor.c bench/event_wake.c \
	bench/redis-lock \
	bench/libc-cost bench/libc-cost.c \
	bench/listen bench/connect.c \
	bench/pool \
	bench/results.md bench/results.svg \
	bench/library.sh bench/libcall.c bench/py-objects

bench: all
	$(top_srcdir)/bench/run --bindir $(abs_top_builddir)/src --out $(abs_top_builddir)/bench
bench-quick: all
	$(top_srcdir)/bench/run --quick --bindir $(abs_top_builddir)/src --out $(abs_top_builddir)/bench
bench-libc: all
	$(top_srcdir)/bench/libc-cost --out $(abs_top_builddir)/bench $(abs_top_builddir)/src
bench-listen: all
	$(top_srcdir)/bench/listen --bindir $(abs_top_builddir)/src
bench-pool: all
	$(top_srcdir)/bench/pool --bindir $(abs_top_builddir)/src
.PHONY: bench bench-quick bench-libc bench-listen bench-pool
