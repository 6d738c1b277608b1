/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gate.h - a weighted, FIFO-fair counting gate whose holds have owners.
 *
 * The one mechanism behind mplock and mpsem.  A gate has `capacity` units.
 * A hold takes `weight` units (a semaphore slot: 1; a shared lock: 1; an
 * exclusive lock: all of them) and records its owner (pid + start time),
 * a fencing token, and an optional TTL.  Waiters queue by ticket: a waiter
 * goes only when no live waiter arrived before it, so a stream of readers
 * never starves a writer and a late arrival never overtakes.
 *
 * Invariant that makes it crash-safe: nothing is counted, everything is
 * derived.  Units in use = the sum of the weights of the hold entries; an
 * entry is published by storing its weight last and freed by storing 0
 * first, so a process killed at any instruction leaves either a whole hold
 * or none, and no repair is needed.  Holds whose owner (and helper) died,
 * whose TTL ran out, and queue entries of dead waiters are reaped by the
 * next process that would otherwise wait: on its first attempt and then
 * every MP_REAP_SLICE_NS while it waits.  A stopped waiter (SIGSTOP,
 * Ctrl-Z) loses its place: a waiter that could go but finds that the
 * queue's head would, and does not, looks at the head at once and drops
 * it if it is stopped (or dead).  It queues again, at the back, when it
 * runs again; so no query (is-locked, value) says "free" while an acquire
 * would wait behind a stopped process.
 */
#ifndef MP_GATE_H
#define MP_GATE_H

#include <stdint.h>

#include "owner.h"
#include "store.h"

#define MP_HOLD_SHARED	1u	/* display: a shared (read) lock */

struct mp_hold {
	uint32_t weight;	/* 0: free entry */
	uint32_t flags;		/* MP_HOLD_* */
	uint64_t token;		/* fencing token: grows with every acquisition */
	int64_t since_ns;	/* CLOCK_REALTIME when taken */
	int64_t expires_ns;	/* CLOCK_MONOTONIC end of the TTL; 0: none */
	struct mp_owner owner;	/* pid 0: no owner (until release or TTL) */
	struct mp_owner helper;	/* run mode: the wrapped command; pid 0: none */
};

struct mp_waiter {
	uint64_t ticket;	/* 0: free entry */
	uint32_t weight;
	uint32_t flags;
	int64_t since_ns;	/* CLOCK_REALTIME when it started waiting */
	struct mp_owner who;	/* the waiting process */
};

struct mp_gate {
	uint32_t capacity;	/* units */
	uint32_t nholds;	/* entries in the hold table */
	uint32_t nwaiters;	/* entries in the waiter table */
	uint32_t flags;
	uint64_t last_token;
	uint64_t last_ticket;
	uint64_t reaped;	/* holds taken back from dead owners or TTLs */
	uint64_t reserved[3];
	/* struct mp_hold holds[nholds]; struct mp_waiter waiters[nwaiters]; */
};

/* Body size of a gate with these tables. */
size_t mp_gate_size(uint32_t nholds, uint32_t nwaiters);

/* Initialises a gate body (for mp_obj_open's create callback). */
void mp_gate_init(void *body, uint32_t capacity, uint32_t nholds, uint32_t nwaiters);

/* Records n (<= capacity, <= nholds) holds of one unit with no owner in a
 * gate body just initialised, as n `acquire --owner none` would (for
 * mp_obj_open's create callback: the object is not visible yet). */
void mp_gate_init_held(void *body, uint32_t n);

/* mp_kind.validate and .reset for kinds built on a gate. */
int mp_gate_validate(struct mp_obj *o);
void mp_gate_reset(struct mp_obj *o);

struct mp_gate_req {
	uint32_t weight;	/* units to take, 1..capacity */
	uint32_t flags;		/* MP_HOLD_* recorded with the hold */
	struct mp_owner owner;	/* the holder to record (pid 0: none) */
	struct mp_owner helper;	/* a second process that keeps the hold alive */
	int64_t ttl_ns;		/* > 0: the hold ends by itself then */
	int64_t deadline_ns;	/* CLOCK_MONOTONIC; 0: wait forever */
	int nonblock;		/* do not wait */
};

/* Takes r->weight units for r->owner, waiting in FIFO order.
 * Returns 0 (with *token and *idx set), -EAGAIN (nonblock and busy),
 * -ETIMEDOUT, -EINTR (termination signal), -EIDRM (object removed),
 * -EDEADLK (the wait could never end: the owner, or the waiting process
 * itself, already holds so many units that the request cannot fit beside
 * them), or another -errno. */
int mp_gate_acquire(struct mp_obj *o, const struct mp_gate_req *r, uint64_t *token, int *idx);

/* Records a helper process for hold idx (if it still carries token). */
int mp_gate_set_helper(struct mp_obj *o, int idx, uint64_t token, const struct mp_owner *helper);

/* Releases the hold idx that carries token (wrap mode).  0 or -ENOENT. */
int mp_gate_release_token(struct mp_obj *o, int idx, uint64_t token);

/* Releases one hold of `who` (pid 0: an ownerless hold; NULL: any hold,
 * the oldest, only with force).  Without force, an ownerless hold is
 * released when who has none.  On success copies the hold to *out.
 * Returns 0, -EPERM (held, but not by who), -ENOLCK (not held at all). */
int mp_gate_release(struct mp_obj *o, const struct mp_owner *who, int force,
		    struct mp_hold *out);

/* Waits until no unit is in use (GNU sem --wait).  0, -ETIMEDOUT, -EINTR,
 * -EAGAIN (nonblock), -EIDRM. */
int mp_gate_drain(struct mp_obj *o, int64_t deadline_ns, int nonblock);

struct mp_gate_info {
	uint32_t capacity, used, nholds_live, nwaiting;
	uint32_t nwaiting_more;	/* the waiter table is full: there may be more */
	uint64_t last_token, reaped, generation;
	int64_t created_ns, changed_ns;
};

/* Reaps the dead, then copies the state: at most max holds into holds[].
 * Returns the number of live holds (may exceed max) or -errno. */
int mp_gate_info(struct mp_obj *o, struct mp_gate_info *gi, struct mp_hold *holds, int max);


/* The operations above, as a store implements them (store.h: the seam).
 * The functions above call the store's; mp_shm_gate_ops is the
 * shared-memory store's. */
struct mp_gate_ops {
	int (*acquire)(struct mp_obj *o, const struct mp_gate_req *r, uint64_t *token, int *idx);
	int (*set_helper)(struct mp_obj *o, int idx, uint64_t token, const struct mp_owner *helper);
	int (*release_token)(struct mp_obj *o, int idx, uint64_t token);
	int (*release)(struct mp_obj *o, const struct mp_owner *who, int force, struct mp_hold *out);
	int (*drain)(struct mp_obj *o, int64_t deadline_ns, int nonblock);
	int (*info)(struct mp_obj *o, struct mp_gate_info *gi, struct mp_hold *holds, int max);
};

extern const struct mp_gate_ops mp_shm_gate_ops;

/* The shared-memory store's renewal of hold idx's lease (if it still
 * carries token) to until_ns on mp_shared_ns(): 0, -ENOENT (gone), or an
 * error of mp_obj_lock.  For lease.c. */
int mp_shm_gate_renew(struct mp_obj *o, int idx, uint64_t token, int64_t until_ns);

#endif
