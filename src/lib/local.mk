# libmp: every piece of shared logic, never installed, linked into every
# tool, test driver and fuzz target.  The one list of its sources.
noinst_LIBRARIES += src/lib/libmp.a
src_lib_libmp_a_SOURCES = \
	src/lib/cli.c src/lib/cli.h \
	src/lib/clock.c src/lib/clock.h \
	src/lib/err.c src/lib/err.h \
	src/lib/event.c src/lib/event.h \
	src/lib/fault.c src/lib/fault.h \
	src/lib/futex.c src/lib/futex.h \
	src/lib/gate.c src/lib/gate.h \
	src/lib/lock.c src/lib/lock.h \
	src/lib/obj.c src/lib/obj.h \
	src/lib/owner.c src/lib/owner.h \
	src/lib/parse.c src/lib/parse.h \
	src/lib/queue.c src/lib/queue.h \
	src/lib/sem.c src/lib/sem.h \
	src/lib/show.c src/lib/show.h \
	src/lib/signals.c src/lib/signals.h \
	src/lib/spawn.c src/lib/spawn.h \
	src/lib/store.c src/lib/store.h \
	src/lib/str.h \
	src/lib/supervise.c src/lib/supervise.h

LIBMP = src/lib/libmp.a
STATIC_LINK = $(STATIC_LDFLAGS)
