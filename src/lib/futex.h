/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* futex.h - sleeping on a 32-bit word shared between processes.
 *
 * FUTEX_WAIT_BITSET with an absolute CLOCK_MONOTONIC deadline and no
 * PRIVATE flag: the word lives in a MAP_SHARED object.
 */
#ifndef MP_FUTEX_H
#define MP_FUTEX_H

#include <stdint.h>

/* Sleeps on *word while it equals seen, until woken, the absolute
 * CLOCK_MONOTONIC time until_ns (0: forever), or a signal.
 * Returns 0 (woken or word changed), -ETIMEDOUT or -EINTR (mp_signal_pending
 * is set, see signals.h). */
int mp_futex_wait(uint32_t *word, uint32_t seen, int64_t until_ns);
void mp_futex_wake(uint32_t *word);

/* How many processes sleep on *word now (none is woken), or -errno.  A
 * process killed while it waited is not counted, unlike in a hint kept
 * beside the word; one about to sleep is not either. */
int mp_futex_sleepers(uint32_t *word);

#endif
