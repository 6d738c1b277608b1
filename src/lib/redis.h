/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis.h - the Redis store (DESIGN §7): the second implementation of the
 * storage seam (store.h), for scripts on several hosts.
 *
 * Keys: every object's keys share one hash tag, PREFIX:{KIND:NAME}:...,
 * so an operation touches one slot (Redis Cluster ready): ":m" a hash of
 * its state, and per kind ":h" (holds), ":q" (waiting tickets), ":w"
 * (waiters).  Every operation that reads and then writes is one EVAL: a
 * client killed at any instruction leaves the server's state whole.
 * Waits never poll: the waiter subscribes to PREFIX:{KIND:NAME}:c, where
 * every change is published, before it looks at the state.  Time is the
 * server's (TIME in the scripts) for leases and TTLs, the caller's for
 * its own timeouts.
 *
 * Owners across hosts: an owner is (host id, pid, start time).  The host
 * id is /etc/machine-id plus the boot id, or $MP_HOST_ID (tests,
 * containers).  A process judges liveness from /proc only for owners of
 * its own host; every hold with a live owner also has a lease that the
 * holding side renews (redis-gate.c), so a host that dies or is cut off
 * loses its holds when the lease runs out, never earlier.
 */
#ifndef MP_REDIS_H
#define MP_REDIS_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "obj.h"

#define MP_REDIS_LEASE_NS	(10 * 1000000000LL)	/* default --lease */

/* Nonzero: a hold owned by this process is kept by a keeper process, as
 * for another owner (acquire), not by a thread that ends the process when
 * the lease is lost (run).  For libmptools, whose holds are the calling
 * program's and may be many at once. */
extern int mp_redis_self_keeper;

/* s->impl of a Redis store. */
struct mp_redis {
	char url[300];		/* for messages: the password is never in it */
	char prefix[64];
	char host[256];
	char path[256];		/* unix socket, or "" */
	int port, db;
	char user[64];
	char pass[256];
	redisContext *c;	/* the command connection */
	unsigned gen;		/* forks seen when c was made (redis.c) */
};

/* o->impl of an object in a Redis store. */
struct mp_robj {
	struct mp_store *s;
	char base[MP_NAME_MAX + 96];	/* PREFIX:{KIND:NAME} */
	uint32_t cap;			/* gates: units */
	uint64_t qmax[3];		/* queues: max_items, max_bytes, max_msg */
	redisContext *sub;		/* queues: subscribed to ":c" from the first
					 * wait on (a stream waits again and again) */
	uint64_t run;			/* groups: the run id (redis-spawn.c) */
};

/* A script: its Lua source and the number of keys it takes. */
struct mp_redis_script {
	const char *lua;
	int nkeys;
};

/* Opens the store at url (see store.h).  0 or -ENOTCONN (with the reason
 * in mp_errmsg: cannot reach, login refused, no such database), -EINVAL
 * (a URL that does not parse). */
int mp_redis_store_open(struct mp_store *s, const char *url);

/* Reads url into r's address, database, prefix and credentials (the
 * password also from $MP_REDIS_PASSWORD).  0, or -EINVAL with a message
 * that never shows the password (redis-url.c). */
int mp_redis_parse_url(struct mp_redis *r, const char *url);

/* A new connection to s's server (subscribers, keepers after fork).
 * NULL with mp_errmsg set. */
redisContext *mp_redis_connect(struct mp_redis *r);

/* Runs sc with keys base+suffixes[i] and the string arguments args[0..n)
 * on s's command connection (reconnecting once if it dropped).  *out is
 * the reply (freeReplyObject it).  A reply is awaited 3 s, or up to the
 * -t deadline (mp_obj_patience) when that is later; a termination signal
 * ends that extra wait.  0, -ENOTCONN (server gone or no reply in time),
 * -EINTR (the signal), -EMEDIUMTYPE (a key of another type under the
 * name), -EPROTO (any other error reply), with mp_errmsg set. */
int mp_redis_eval(struct mp_store *s, const struct mp_redis_script *sc, const char *base,
		  const char *const *suffixes, int nargs, const char *const *args,
		  redisReply **out);

/* As mp_redis_eval, with the arguments' lengths (binary-safe; lens NULL:
 * strlen of each). */
/* The status of a script's code v for object o of a kind (what: "queue",
 * a_what: "a queue"): -2 gone (-EIDRM), -3 another kind (-EMEDIUMTYPE),
 * each with its message; else 0. */
int mp_redis_kind_status(const struct mp_obj *o, long long v, const char *what,
			 const char *a_what);

int mp_redis_eval_len(struct mp_store *s, const struct mp_redis_script *sc, const char *base,
		      const char *const *suffixes, int nargs, const char *const *args,
		      const size_t *lens, redisReply **out);

/* As mp_redis_eval on connection c, but a reply is awaited 3 s and no
 * longer, whatever -t says: renewals of leases must fail in time. */
int mp_redis_eval_on(struct mp_store *s, redisContext *c, const struct mp_redis_script *sc,
		     const char *base, const char *const *suffixes, int nargs,
		     const char *const *args, redisReply **out);

/* The host id of this process: $MP_HOST_ID, else machine id + boot id. */
const char *mp_redis_host_id(void);

/* Fills o as an object of kind k named name in s (no server call). */
void mp_redis_obj_init(struct mp_store *s, const struct mp_kind *k, const char *name,
		       struct mp_obj *o);

/* Subscribes c to the channels base[i]+":c" (i < n).  0 or -ENOTCONN. */
int mp_redis_subscribe(struct mp_store *s, redisContext *c, const char *const *bases, int n);

/* Waits for the next message on subscriber connection c until the
 * absolute CLOCK_MONOTONIC slice_end_ns: 1 with *idx the index of its
 * channel and payload[] its text (truncated to len), 0 when the slice ran
 * out, -EINTR (a termination signal), -ENOTCONN. */
int mp_redis_next_message(redisContext *c, const char *const *bases, int n, int64_t slice_end_ns,
			  int *idx, char *payload, size_t len);

/* After a lost connection, in a wait: sleeps a little (200 ms, or to the
 * deadline) before the caller connects again.  0, -ETIMEDOUT (the
 * deadline passed: the caller reports the lost server), -EINTR. */
int mp_redis_pause(int64_t deadline_ns);

/* Sleeps on subscriber connection sub (subscribed to base alone) until a
 * change of the object is published, slice_ns pass or the deadline:
 * 0 (look again), -ETIMEDOUT (the deadline passed with no change), -EIDRM
 * (the object was removed; the caller says so), -EINTR, -ENOTCONN. */
int mp_redis_sleep(redisContext *sub, const char *base, int64_t slice_ns, int64_t deadline_ns);

/* A waiter's subscriber connection: (re)connects *sub (freeing the old
 * one) and subscribes it to bases[0..n).  0 or -ENOTCONN. */
int mp_redis_waiter(struct mp_store *s, redisContext **sub, const char *const *bases, int n);

/* A wait lost its connection: mp_redis_waiter again, pausing in between
 * (mp_redis_pause), until the deadline.  0, or -ENOTCONN once the deadline
 * passed, -EINTR. */
int mp_redis_rewait(struct mp_store *s, redisContext **sub, const char *const *bases, int n,
		    int64_t deadline_ns);

/* The ops tables of the kinds on Redis (redis-gate.c, redis-event.c,
 * redis-var.c, redis-queue.c, redis-spawn.c). */
extern const struct mp_gate_ops mp_redis_gate_ops;
extern const struct mp_lock_ops mp_redis_lock_ops;
extern const struct mp_sem_ops mp_redis_sem_ops;
extern const struct mp_event_ops mp_redis_event_ops;
extern const struct mp_var_ops mp_redis_var_ops;
extern const struct mp_queue_ops mp_redis_queue_ops;
extern const struct mp_spawn_ops mp_redis_spawn_ops;
extern const struct mp_store_ops mp_redis_store_ops;

#endif
