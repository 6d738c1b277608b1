/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-lease.c - keeping the lease of a hold on a Redis store; see
 * redis-gate.h.
 *
 * Invariant: a hold with a live owner is renewed, every lease/3, by the
 * one process that can tell the owner lives: a thread of the owner itself
 * (run: the wrapper), or a keeper process that watches the owner through
 * a pidfd (acquire).  A lease that ran out is never renewed again (the
 * server refuses), so the side that lost it ends what the hold protected
 * (the wrapper: its command, then exit 69) instead of going on without.
 * The thread and the keeper are lease.c's; this file renews and drops a
 * hold on the server for them.
 */
#include "config.h"

#include "redis.h"
#include "redis-gate.h"
#include "err.h"
#include "lease.h"
#include "owner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The hold this process keeps; the renewer thread (or the keeper, in its
 * copy of this memory) has its own connection. */
struct rkept {
	struct mp_store *s;
	char base[MP_NAME_MAX + 96];
	uint64_t token;
	redisContext *c;
};

static struct rkept rkept;

/* Renews the hold on its own connection.  Returns 1 renewed, 0 gone,
 * -1 the server could not be asked. */
static int rkept_renew(void *ctx, int64_t lease_ns)
{
	struct rkept *k = ctx;
	char tok[24], ms[24];
	const char *args[2] = { tok, ms };
	redisReply *rep;
	int rc;

	if (!k->c && !(k->c = mp_redis_connect(k->s->impl)))
		return -1;
	snprintf(tok, sizeof tok, "%" PRIu64, k->token);
	snprintf(ms, sizeof ms, "%lld", (long long)(lease_ns / 1000000));
	rc = mp_redis_eval_on(k->s, k->c, &mp_redis_renew_script, k->base, mp_redis_gate_keys, 2,
			      args, &rep);
	if (rc) {
		redisFree(k->c);
		k->c = NULL;
		return -1;
	}
	rc = rep->integer ? 1 : 0;
	freeReplyObject(rep);
	return rc;
}

/* The owner died: drop the hold (once; a failure leaves it to its lease). */
static void rkept_drop(void *ctx)
{
	struct rkept *k = ctx;
	char tok[24];
	const char *a[1] = { tok };
	redisReply *rep;

	snprintf(tok, sizeof tok, "%" PRIu64, k->token);
	if ((k->c || (k->c = mp_redis_connect(k->s->impl))) &&
	    !mp_redis_eval_on(k->s, k->c, &mp_redis_drop_script, k->base, mp_redis_gate_keys, 1, a, &rep))
		freeReplyObject(rep);
}

static const struct mp_lease_ops rkept_ops = { rkept_renew, rkept_drop };

/* Makes o's hold of token the one this process keeps. */
static void keep(struct mp_obj *o, uint64_t token)
{
	if (rkept.c)
		redisFree(rkept.c);
	memset(&rkept, 0, sizeof rkept);
	rkept.s = ((struct mp_robj *)o->impl)->s;
	snprintf(rkept.base, sizeof rkept.base, "%s", ((struct mp_robj *)o->impl)->base);
	rkept.token = token;
}

void mp_redis_renewer_start(struct mp_obj *o, uint64_t token)
{
	if (mp_lease_renewing())
		return;
	keep(o, token);
	mp_lease_renewer_start(&rkept_ops, &rkept, token, rkept.s->lease_ns);
}

void mp_redis_renewer_stop(uint64_t token)
{
	mp_lease_stop(token);
}

void mp_redis_renewer_helper(uint64_t token, pid_t helper)
{
	mp_lease_helper(token, helper);
}

void mp_redis_keeper_start(struct mp_obj *o, uint64_t token, const struct mp_owner *owner)
{
	if (mp_lease_renewing())
		return;	/* the thread uses rkept; not a case the tools make */
	keep(o, token);
	mp_lease_keeper_start(&rkept_ops, &rkept, rkept.s->lease_ns, owner);
}
