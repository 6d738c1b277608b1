# SPDX-License-Identifier: LGPL-2.1-or-later
# libmptools: the public C library (include/mptools.h, mptools(3)) over the
# objects' own sources (MP_CORE_SOURCES, src/lib/local.mk), compiled a
# second time for it as position-independent code with hidden symbols; the
# tools keep linking libmp.a (not PIC) statically.  Only the functions of
# mptools.h are exported, with the version node of libmptools.map.
lib_LTLIBRARIES += libmptools.la
include_HEADERS += include/mptools.h
libmptools_la_SOURCES = \
	src/api/api.h \
	src/api/api.c \
	src/api/api-event.c \
	src/api/api-gate.c \
	src/api/api-queue.c \
	$(MP_CORE_SOURCES)
libmptools_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/include
libmptools_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
# current:revision:age (libtool's rules): libmptools.so.0
libmptools_la_LDFLAGS = -version-info 0:0:0 -no-undefined $(LIB_NO_UNDEFINED) \
	-Wl,--version-script=$(srcdir)/src/api/libmptools.map
libmptools_la_LIBADD = $(HIREDIS_LIBS) -lpthread -lm
EXTRA_libmptools_la_DEPENDENCIES = src/api/libmptools.map
EXTRA_DIST += src/api/libmptools.map

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = mptools.pc
