/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* futex.c - sleeping on a shared word; see futex.h. */
#include "config.h"

#include "futex.h"
#include "signals.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void mp_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int mp_futex_wait(uint32_t *word, uint32_t seen, int64_t until_ns)
{
	struct timespec ts, *tp = NULL;
	long rc;

	if (until_ns > 0) {
		ts.tv_sec = until_ns / 1000000000LL;
		ts.tv_nsec = until_ns % 1000000000LL;
		tp = &ts;
	}
	if (mp_signal_pending)
		return -EINTR;
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so a
	 * restarted wait does not stretch the timeout. */
	rc = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, seen, tp, NULL, FUTEX_BITSET_MATCH_ANY);
	if (rc == 0 || errno == EAGAIN)
		return 0;
	if (errno == ETIMEDOUT)
		return -ETIMEDOUT;
	if (errno == EINTR)
		return mp_signal_pending ? -EINTR : 0;
	return -errno;
}

int mp_futex_sleepers(uint32_t *word)
{
	/* Requeue every sleeper onto the same word and wake none: the kernel
	 * answers how many it moved, and nobody notices the move. */
	for (int tries = 0; tries < 8; tries++) {
		uint32_t v = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		long n = syscall(SYS_futex, word, FUTEX_CMP_REQUEUE, 0, (long)INT32_MAX, word, v);

		if (n >= 0)
			return n > INT32_MAX ? INT32_MAX : (int)n;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}
