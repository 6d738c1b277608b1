# SPDX-License-Identifier: LGPL-2.1-or-later
# The objects and stores: every kind, the seam, the Redis store; what
# libmptools (src/api/) is built from too.  The command line's own parts
# (options, verbs, output, supervision) are only in libmp.
MP_CORE_SOURCES = \
	src/lib/clock.c \
	src/lib/clock.h \
	src/lib/err.c \
	src/lib/err.h \
	src/lib/event.c \
	src/lib/event.h \
	src/lib/fault.c \
	src/lib/fault.h \
	src/lib/futex.c \
	src/lib/futex.h \
	src/lib/gate.c \
	src/lib/gate.h \
	src/lib/lease.c \
	src/lib/lease.h \
	src/lib/lock.c \
	src/lib/lock.h \
	src/lib/obj.c \
	src/lib/obj.h \
	src/lib/owner.c \
	src/lib/owner.h \
	src/lib/parse.c \
	src/lib/parse.h \
	src/lib/queue.h \
	src/lib/queue-int.h \
	src/lib/queue-info.c \
	src/lib/queue-journal.c \
	src/lib/queue-kind.c \
	src/lib/queue-lease.c \
	src/lib/queue-ring.c \
	src/lib/queue-wait.c \
	src/lib/queue-split.c \
	src/lib/redis.h \
	src/lib/redis.c \
	src/lib/redis-url.c \
	src/lib/redis-wait.c \
	src/lib/redis-event.c \
	src/lib/redis-gate.c \
	src/lib/redis-gate.h \
	src/lib/redis-gate-lua.c \
	src/lib/redis-lease.c \
	src/lib/redis-queue.c \
	src/lib/redis-queue.h \
	src/lib/redis-queue-lua.c \
	src/lib/redis-queue-state.c \
	src/lib/redis-spawn.c \
	src/lib/redis-spawn.h \
	src/lib/redis-spawn-read.c \
	src/lib/redis-spawn-lua.c \
	src/lib/redis-var.c \
	src/lib/seam.c \
	src/lib/sem.c \
	src/lib/sem.h \
	src/lib/signals.c \
	src/lib/signals.h \
	src/lib/spawn.c \
	src/lib/spawn.h \
	src/lib/store.c \
	src/lib/store.h \
	src/lib/var.c \
	src/lib/var.h \
	src/lib/str.h

# libmp: every piece of shared logic, never installed, linked into every
# tool, test driver and fuzz target.  The one list of its sources.
noinst_LIBRARIES += src/lib/libmp.a
src_lib_libmp_a_SOURCES = $(MP_CORE_SOURCES) \
	src/lib/cli.c \
	src/lib/cli.h \
	src/lib/cmd-ttl.c \
	src/lib/listen.c \
	src/lib/listen.h \
	src/lib/show.h \
	src/lib/show-gate.c \
	src/lib/show-event.c \
	src/lib/show-queue.c \
	src/lib/show-spawn.c \
	src/lib/show-var.c \
	src/lib/show-table.c \
	src/lib/progress.c \
	src/lib/progress.h \
	src/lib/supervise.h \
	src/lib/supervise-int.h \
	src/lib/supervise-front.c \
	src/lib/supervise-keeper.c \
	src/lib/supervise-listen.c \
	src/lib/supervise-order.c \
	src/lib/supervise-output.c \
	src/lib/supervise-pool.c \
	src/lib/supervise-sweep.c \
	src/lib/supervise-workers.c \
	src/lib/verbs.c \
	src/lib/verbs.h

# the queue as one unit, included by tests/unit/t-queue.c (see the file)
EXTRA_DIST += src/lib/queue.c

LIBMP = src/lib/libmp.a $(HIREDIS_LIBS) -lpthread
STATIC_LINK = $(STATIC_LT_LDFLAGS)
