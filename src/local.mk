# The library: never installed, linked into every tool.
noinst_LIBRARIES += src/lib/libmp.a
src_lib_libmp_a_SOURCES = \
	src/lib/args.c src/lib/args.h \
	src/lib/cli.c src/lib/cli.h \
	src/lib/gate.c src/lib/gate.h \
	src/lib/lock.c src/lib/lock.h \
	src/lib/owner.c src/lib/owner.h \
	src/lib/parse.c src/lib/parse.h \
	src/lib/show.c src/lib/show.h \
	src/lib/store.c src/lib/store.h \
	src/lib/sync.c src/lib/sync.h

LIBMP = src/lib/libmp.a
STATIC_LINK = $(STATIC_LDFLAGS)

bin_PROGRAMS += src/mplock
src_mplock_SOURCES = src/mplock.c
src_mplock_LDADD = $(LIBMP)
src_mplock_LDFLAGS = $(STATIC_LINK)
