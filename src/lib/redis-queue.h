/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-queue.h - what the queue on a Redis store (redis-queue.c) and its
 * scripts (redis-queue-lua.c) share.  Internal to the Redis store. */
#ifndef MP_REDIS_QUEUE_H
#define MP_REDIS_QUEUE_H

#include "redis.h"
#include "queue.h"

/* The scripts; their ARGV and replies are above each in redis-queue-lua.c. */
extern const struct mp_redis_script mp_redis_queue_open_script;
extern const struct mp_redis_script mp_redis_queue_put_script;
extern const struct mp_redis_script mp_redis_queue_take_script;
extern const struct mp_redis_script mp_redis_queue_settle_script;
extern const struct mp_redis_script mp_redis_queue_end_script;
extern const struct mp_redis_script mp_redis_queue_ack_owner_script;
extern const struct mp_redis_script mp_redis_queue_done_script;
extern const struct mp_redis_script mp_redis_queue_close_script;
extern const struct mp_redis_script mp_redis_queue_reopen_script;
extern const struct mp_redis_script mp_redis_queue_info_script;
extern const struct mp_redis_script mp_redis_queue_waiter_script;
extern const struct mp_redis_script mp_redis_queue_drop_script;
extern const struct mp_redis_script mp_redis_queue_renew_script;

/* ---- shared by redis-queue.c and redis-queue-state.c ---- */

static inline struct mp_robj *robj(const struct mp_obj *o)
{
	return o->impl;
}

/* Runs sc on the object's keys (the gate's suffixes); mp_rq_run also
 * turns "no such queue" (-EIDRM) and "not a queue" (-EMEDIUMTYPE) replies
 * into errors; mp_rq_simple returns the integer (or first) reply in *code. */
int mp_rq_eval(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
	       const char *const *args, const size_t *lens, redisReply **rep);
int mp_rq_run(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
	      const char *const *args, const size_t *lens, redisReply **rep);
int mp_rq_simple(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
		 const char *const *args, long long *code);
int mp_rq_status(const struct mp_obj *o, long long v);
long long mp_rq_code(const redisReply *rep);

/* An owner as four script arguments: pid, start, pid namespace, host. */
struct mp_rq_owner_args {
	char pid[16], start[24], ns[24];
};
void mp_rq_owner_args(const struct mp_owner *w, struct mp_rq_owner_args *a, const char **argv);

/* A wait of this process: listed as a waiter (for info) while it lasts. */
struct mp_rq_wait {
	int listed;
	char what;	/* 'g' a getter or joiner, 'p' a putter */
};
int mp_rq_wait_step(struct mp_obj *o, struct mp_rq_wait *w, int64_t deadline_ns, int nonblock);
void mp_rq_wait_end(struct mp_obj *o, struct mp_rq_wait *w);

/* Hands back the reservations of dead owners of this host among the
 * tokens and records of w from its first-th element. */
void mp_rq_reap_local(struct mp_obj *o, redisReply *w, size_t first);

/* The verbs of redis-queue-state.c (the ops table is redis-queue.c's). */
void mp_rq_get_params(const struct mp_obj *o, struct mp_queue_params *p);
int mp_rq_done(struct mp_obj *o, uint64_t n);
int mp_rq_join(struct mp_obj *o, int64_t deadline_ns, int nonblock);
int mp_rq_close(struct mp_obj *o);
int mp_rq_reopen(struct mp_obj *o);
int mp_rq_info(struct mp_obj *o, struct mp_queue_info *qi, struct mp_queue_lease_info *leases,
	       int max);
int mp_rq_ack_owner(struct mp_obj *o, const struct mp_owner *who, uint64_t token, int force,
		    struct mp_queue_lease_info *out);

#endif
