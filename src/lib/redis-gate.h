/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-gate.h - what the gate on a Redis store (redis-gate.c) and the
 * keeping of its leases (redis-lease.c) share.  Internal to the Redis
 * store. */
#ifndef MP_REDIS_GATE_H
#define MP_REDIS_GATE_H

#include <stdint.h>
#include <sys/types.h>

#include "owner.h"
#include "redis.h"

/* The suffixes of a gate's keys: state, holds, queue, waiters, channel. */
extern const char *const mp_redis_gate_keys[];

/* ARGV: token [owner start] → 1 the hold was dropped, 0 no such hold. */
extern const struct mp_redis_script mp_redis_drop_script;
/* ARGV: token lease_ms → 1 renewed, 0 gone (or its lease already ran out). */
extern const struct mp_redis_script mp_redis_renew_script;

/* The scripts that renew a lease and drop a hold whose owner died: the
 * gate's above by default; a kind with the same keys and ARGV (the queue)
 * passes its own. */
struct mp_redis_lease_scripts {
	const struct mp_redis_script *renew, *drop;
};
void mp_redis_renewer_start_scripts(struct mp_obj *o, uint64_t token,
				    const struct mp_redis_lease_scripts *sc);
void mp_redis_keeper_start_scripts(struct mp_obj *o, uint64_t token, const struct mp_owner *owner,
				   const struct mp_redis_lease_scripts *sc);

/* The owner is this process (run): a thread renews the lease of token
 * until mp_redis_renewer_stop(token); when it cannot (the lease ran out,
 * the hold was taken back), it ends the helper (TERM, KILL after 5 s) and
 * the process, with 69.  One hold at a time. */
void mp_redis_renewer_start(struct mp_obj *o, uint64_t token);
void mp_redis_renewer_stop(uint64_t token);
/* The command whose pid the renewer ends if the hold is lost. */
void mp_redis_renewer_helper(uint64_t token, pid_t helper);

/* The owner is another live process (acquire): a keeper process,
 * detached, renews the lease while the owner lives and drops the hold
 * when it dies. */
void mp_redis_keeper_start(struct mp_obj *o, uint64_t token, const struct mp_owner *owner);


/* The scripts (redis-gate-lua.c); their ARGV and replies are above each. */
extern const struct mp_redis_script mp_redis_gate_open_script;
extern const struct mp_redis_script mp_redis_gate_acquire_script;
extern const struct mp_redis_script mp_redis_gate_cancel_script;
extern const struct mp_redis_script mp_redis_gate_helper_script;
extern const struct mp_redis_script mp_redis_gate_release_script;
extern const struct mp_redis_script mp_redis_gate_info_script;

#endif
