/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clock.h - the clocks, in nanoseconds.
 *
 * Every deadline in the library is an absolute CLOCK_MONOTONIC time in ns
 * (0: none); times shown to users or stored in objects are CLOCK_REALTIME.
 */
#ifndef MP_CLOCK_H
#define MP_CLOCK_H

#include <stdint.h>
#include <time.h>

/* clock_gettime(id) in ns; the first reads by system call (see clock.c). */
int64_t mp_clock_ns(clockid_t id);
/* CLOCK_MONOTONIC and CLOCK_REALTIME in ns. */
int64_t mp_now_ns(void);
int64_t mp_realtime_ns(void);

/* The offset of this process's time namespace for CLOCK_MONOTONIC or
 * CLOCK_BOOTTIME (what `unshare -T --monotonic/--boottime` set): 0 in the
 * initial one.  Read once, from /proc/self/timens_offsets. */
int64_t mp_timens_offset_ns(clockid_t id);

/* CLOCK_MONOTONIC as the initial time namespace reads it: the clock of
 * every time stored in an object that another process compares (TTLs,
 * leases), so that processes in time namespaces with other offsets agree
 * (`unshare -T`, CRIU, LXC). */
int64_t mp_shared_ns(void);

/* Deadline for a timeout: -1 → 0 (wait forever); else now + timeout. */
int64_t mp_deadline(int64_t timeout_ns);

#endif
