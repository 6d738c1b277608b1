# SPDX-License-Identifier: LGPL-2.1-or-later
# C programs over libmptools (mptools(3), EXAMPLES), built by make check
# and run against the tools by tests/libmptools.bats; installed as
# examples.
check_PROGRAMS += examples/c/producer examples/c/waiter
examples_c_producer_SOURCES = examples/c/producer.c
examples_c_producer_CPPFLAGS = -I$(top_srcdir)/include
examples_c_producer_LDADD = libmptools.la
examples_c_waiter_SOURCES = examples/c/waiter.c
examples_c_waiter_CPPFLAGS = -I$(top_srcdir)/include
examples_c_waiter_LDADD = libmptools.la
examplesc_DATA = examples/c/producer.c examples/c/waiter.c
examplescdir = $(docdir)/examples/c

