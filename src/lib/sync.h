/* sync.h - the object's internal mutex and its futex waits.
 *
 * The mutex in mp_hdr is robust and process-shared, and is held only for
 * O(1) bookkeeping, never while blocking.  A holder killed at any
 * instruction makes the next mp_obj_lock() run the kind's repair() and
 * mark the mutex consistent.  Blocking is a FUTEX_WAIT_BITSET on a 32-bit
 * sequence word with an absolute CLOCK_MONOTONIC deadline (no PRIVATE
 * flag: the word is shared between processes).  Process-shared condvars
 * are not used: a waiter killed inside one hangs every later signaller
 * (glibc < 2.41, see notes/ipc-pitfalls.md).
 *
 * A disk store outlives a reboot but its mutex words do not: when the boot
 * id recorded in the header differs from this boot's, mp_obj_lock() first
 * re-initialises the sync state under flock(2) and calls the kind's reset().
 */
#ifndef MP_SYNC_H
#define MP_SYNC_H

#include <stdint.h>
#include <time.h>

#include "store.h"

/* Locks o's mutex (waiting at most 10 s: a longer hold means a stopped
 * process holds it).  Returns 0, or -ENOTRECOVERABLE / -EDEADLK. */
int mp_obj_lock(struct mp_obj *o);
void mp_obj_unlock(struct mp_obj *o);

/* Marks a change of state: bumps seq and changed_ns.  Call locked, then
 * mp_obj_wake() after unlocking. */
void mp_obj_changed(struct mp_obj *o);

/* Wakes every process sleeping on o's seq (if the hint says any). */
void mp_obj_wake(struct mp_obj *o);

/* Waits on the object as a blocked operation does: called locked with the
 * seq value seen while locked; registers in nwait, unlocks, sleeps until
 * woken, min(deadline, now + slice) or a signal, relocks.
 * Returns 0 (woken or slice over: re-check), -ETIMEDOUT (deadline passed),
 * -EINTR (a termination signal arrived, see mp_signal_pending) or the
 * error of relocking.  *slice_over tells whether the slice ran out (time
 * to look for dead owners). */
int mp_obj_wait(struct mp_obj *o, uint32_t *word, uint32_t *nwait, int64_t deadline_ns,
		int64_t slice_ns, int *slice_over);

/* Checks that o's file is still the object we mapped: -EBADMSG if its size
 * changed (the next access could raise SIGBUS), -EIDRM if it was unlinked
 * behind our back (rm -f, systemd-logind's RemoveIPC), else 0.  Long waits
 * call it after every wake. */
int mp_obj_check_file(struct mp_obj *o);

/* How often a blocked waiter looks for dead owners. */
#define MP_REAP_SLICE_NS	(100 * 1000000LL)

#endif
