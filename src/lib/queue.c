/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue.c - the whole queue kind in one translation unit, for the white-box
 * driver tests/unit/t-queue.c, which includes this file to reach the
 * internals (slots, records, state_ok()).  The library does not compile
 * it: libmp builds the parts one by one (src/lib/local.mk), and a program
 * that includes this file defines every symbol of the parts itself, so
 * none of them is taken from libmp.a.  See queue-int.h for the parts. */
#include "queue-kind.c"
#include "queue-journal.c"
#include "queue-ring.c"
#include "queue-lease.c"
#include "queue-wait.c"
#include "queue-info.c"
