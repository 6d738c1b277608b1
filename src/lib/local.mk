# libmp: every piece of shared logic, never installed, linked into every
# tool, test driver and fuzz target.  The one list of its sources.
noinst_LIBRARIES += src/lib/libmp.a
src_lib_libmp_a_SOURCES = \
	src/lib/cli.c src/lib/cli.h \
	src/lib/event.c src/lib/event.h \
	src/lib/fault.c src/lib/fault.h \
	src/lib/gate.c src/lib/gate.h \
	src/lib/lock.c src/lib/lock.h \
	src/lib/owner.c src/lib/owner.h \
	src/lib/parse.c src/lib/parse.h \
	src/lib/queue.h src/lib/queue-int.h \
	src/lib/queue-kind.c src/lib/queue-journal.c src/lib/queue-ring.c \
	src/lib/queue-lease.c src/lib/queue-wait.c src/lib/queue-info.c \
	src/lib/sem.c src/lib/sem.h \
	src/lib/show.c src/lib/show.h \
	src/lib/spawn.c src/lib/spawn.h \
	src/lib/store.c src/lib/store.h \
	src/lib/supervise.c src/lib/supervise.h \
	src/lib/sync.c src/lib/sync.h

# the queue as one unit, included by tests/unit/t-queue.c (see the file)
EXTRA_DIST += src/lib/queue.c

LIBMP = src/lib/libmp.a
STATIC_LINK = $(STATIC_LDFLAGS)
