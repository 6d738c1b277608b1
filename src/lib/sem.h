/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sem.h - the semaphore kind (a counting gate with owned slots), and the
 * system's named POSIX semaphores for `mpsem --posix`.
 *
 * A semaphore is a gate (gate.h) of N units with N hold entries: every
 * hold takes one unit, so a hold's index in the table is a slot number
 * 0..N-1 that no other live holder has at the same time.  N is fixed at
 * creation and kept in the object; everything else (FIFO waiting, owners,
 * TTLs, reaping of dead owners, drain) is the gate's.
 *
 * The POSIX functions wrap sem_open(3) and friends on "/NAME", the object
 * C programs and Python's posix_ipc see.  Those semaphores have no owners:
 * a unit taken by a process that dies is never given back.
 */
#ifndef MP_SEM_H
#define MP_SEM_H

#include <semaphore.h>
#include <stdint.h>

#include "gate.h"
#include "store.h"

#define MP_SEM_DEFAULT_SLOTS	1
#define MP_SEM_MAX_SLOTS	65536	/* ~6 MiB object; the hold table is scanned per call */
#define MP_SEM_WAITERS		128

extern const struct mp_kind mp_sem_kind;

/* Opens semaphore NAME.  With create_slots > 0 it is created when missing,
 * with that many slots; *created (may be NULL) tells whether this call
 * made it.  An existing semaphore is opened whatever its size: compare
 * mp_sem_slots() with what the caller asked for.  0 or -errno (store.h). */
int mp_sem_open(struct mp_store *s, const char *name, uint32_t create_slots, int *created,
		struct mp_obj *o);

/* As mp_sem_open, and a semaphore this call creates starts with only
 * create_free (<= create_slots) slots free: the others are held with no
 * owner, as after `acquire --owner none`, until released. */
int mp_sem_open_value(struct mp_store *s, const char *name, uint32_t create_slots,
		      uint32_t create_free, int *created, struct mp_obj *o);

/* The number of slots of an open semaphore (validated at open). */
uint32_t mp_sem_slots(const struct mp_obj *o);

/* ---- named POSIX semaphores ---- */

/* Opens the POSIX semaphore "/NAME"; with create, creates it (mode 0600)
 * with value initial when missing.  Returns 0 with *sem set, or -errno:
 * -ENOENT (no such semaphore, without create), -EACCES, -EINVAL, ... */
int mp_psem_open(const char *name, int create, unsigned initial, sem_t **sem);

/* Takes one unit: at once (nonblock: -EAGAIN if the value is 0), or waiting
 * until the absolute CLOCK_MONOTONIC deadline_ns (0: forever).
 * Returns 0, -EAGAIN, -ETIMEDOUT, -EINTR (a termination signal arrived,
 * see mp_signal_pending; nothing was taken) or another -errno. */
int mp_psem_wait(sem_t *sem, int64_t deadline_ns, int nonblock);

/* Gives one unit back (nothing checks that it was taken).  0 or -errno
 * (-EOVERFLOW beyond SEM_VALUE_MAX). */
int mp_psem_post(sem_t *sem);

/* The current value (never negative on Linux).  0 or -errno. */
int mp_psem_value(sem_t *sem, int *value);

/* Removes "/NAME": processes that have it open keep using it.  0 or
 * -errno (-ENOENT: no such semaphore). */
int mp_psem_unlink(const char *name);

void mp_psem_close(sem_t *sem);


/* The operations above, as a store implements them (store.h: the seam).
 * The functions above call the store's; mp_shm_sem_ops is the
 * shared-memory store's. */
struct mp_sem_ops {
	int (*open)(struct mp_store *s, const char *name, uint32_t create_slots, int *created, struct mp_obj *o);
	uint32_t (*slots)(const struct mp_obj *o);
	int (*open_value)(struct mp_store *s, const char *name, uint32_t create_slots, uint32_t create_free, int *created, struct mp_obj *o);
};

extern const struct mp_sem_ops mp_shm_sem_ops;

#endif
