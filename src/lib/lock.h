/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lock.h - the lock kind: an exclusive/shared lock on a gate.
 *
 * A lock is a gate of MP_LOCK_MAX_SHARED units: a shared hold takes one
 * unit, an exclusive hold takes all of them.  FIFO waiting in the gate
 * makes it writer-fair.
 */
#ifndef MP_LOCK_H
#define MP_LOCK_H

#include "gate.h"
#include "store.h"

#define MP_LOCK_MAX_SHARED	64
#define MP_LOCK_WAITERS		128

extern const struct mp_kind mp_lock_kind;

/* Opens lock NAME, creating it when create is set.  0 or -errno. */
int mp_lock_open(struct mp_store *s, const char *name, int create, struct mp_obj *o);

/* Weight of a hold in a lock. */
static inline uint32_t mp_lock_weight(int shared)
{
	return shared ? 1 : MP_LOCK_MAX_SHARED;
}


/* The operations above, as a store implements them (store.h: the seam).
 * The functions above call the store's; mp_shm_lock_ops is the
 * shared-memory store's. */
struct mp_lock_ops {
	int (*open)(struct mp_store *s, const char *name, int create, struct mp_obj *o);
};

extern const struct mp_lock_ops mp_shm_lock_ops;

#endif
