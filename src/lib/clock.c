/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clock.c - the clocks; see clock.h. */
#include "config.h"

#include "clock.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The first few clock reads go to the kernel.  The first vDSO call of a
 * static binary looks the vDSO up and faults in its pages: 3 page faults,
 * ~30 us on a VM, against ~1 us for the system call.  A one-shot tool
 * reads the clock two or three times; a long wait or a stream reads it
 * thousands of times, and from the 9th read on it gets the vDSO. */
int64_t mp_clock_ns(clockid_t id)
{
	static unsigned reads;
	struct timespec ts;

	if (reads < 8) {
		reads++;
		if (syscall(SYS_clock_gettime, id, &ts) == 0)
			return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	}
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t mp_now_ns(void)
{
	return mp_clock_ns(CLOCK_MONOTONIC);
}

int64_t mp_realtime_ns(void)
{
	return mp_clock_ns(CLOCK_REALTIME);
}

int64_t mp_deadline(int64_t timeout_ns)
{
	return timeout_ns < 0 ? 0 : mp_now_ns() + timeout_ns;
}
