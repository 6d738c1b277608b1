/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lease.h - keeping the lease of a hold whose owner not every process can
 * see (an owner in a pid namespace of its own: a container sharing the
 * store; owner.h says who judges by lease).
 *
 * Invariant: a hold with a lease is renewed, every lease/3, by the one
 * process that can tell the owner lives: a thread of the owner itself
 * (run: the wrapper), or a keeper process that watches the owner through
 * a pidfd (acquire) and releases the hold when the owner dies.  The local
 * store (gate.c) and the Redis store (redis-lease.c) keep their holds so.  A lease
 * that ran out is not renewed again: the hold may have gone to another,
 * so the side that lost it ends what the hold protected (the wrapper:
 * its command, then exit 69) instead of going on without.
 */
#ifndef MP_LEASE_H
#define MP_LEASE_H

#include <stdint.h>
#include <sys/types.h>

#include "owner.h"

struct mp_obj;

#define MP_LEASE_DEFAULT_NS	(10 * 1000000000LL)

/* How a store keeps one hold: renew(ctx, lease_ns) returns 1 renewed, 0
 * the hold is gone, -1 it could not be asked now; drop(ctx) releases it
 * (its owner died). */
struct mp_lease_ops {
	int (*renew)(void *ctx, int64_t lease_ns);
	void (*drop)(void *ctx);
};

/* The lease of o's holds: the store's --lease, else 10 s. */
int64_t mp_lease_length(const struct mp_obj *o);

/* Starts keeping the hold that carries token for owner: a thread of this
 * process when owner is this process, else a keeper process (which
 * outlives this one).  ctx must stay valid while the hold is kept (the
 * keeper has its own copy of this process's memory). */
void mp_lease_keep(const struct mp_lease_ops *ops, void *ctx, uint64_t token, int64_t lease_ns,
		   const struct mp_owner *owner);

/* The two halves of mp_lease_keep(), for a store that knows which it
 * wants (the Redis store): a thread of this process that renews until
 * mp_lease_stop(token), or a keeper process for owner. */
void mp_lease_renewer_start(const struct mp_lease_ops *ops, void *ctx, uint64_t token,
			    int64_t lease_ns);
void mp_lease_keeper_start(const struct mp_lease_ops *ops, void *ctx, int64_t lease_ns,
			   const struct mp_owner *owner);

/* The wrapped command, ended (TERM, then KILL after 5 s) if the lease of
 * token is lost. */
void mp_lease_helper(uint64_t token, pid_t helper);

/* Nonzero while this process's renewer thread runs (one hold at a time:
 * a second is not kept). */
int mp_lease_renewing(void);

/* Stops this process's renewals of token (before releasing it). */
void mp_lease_stop(uint64_t token);

#endif
