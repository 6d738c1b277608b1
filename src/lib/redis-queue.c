/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-queue.c - queues on a Redis server; see redis.h and queue.h.
 *
 * Keys (the gate's suffixes, so rm and redis-lease.c serve queues too):
 *   PREFIX:{queue:NAME}:m  hash: kind, mi/mb/mm (the limits, fixed at
 *                          creation), b (bytes waiting), fn/fb (messages
 *                          and bytes in flight), un (unfinished, for
 *                          done/join), puts, acks, redel, closed, tok (the
 *                          last token), gen, created, changed
 *   ...:q  list of the waiting messages, the next at the head
 *   ...:w  hash token → a reservation in flight: its count, bytes, lease
 *          flag, times and owner (host id, pid, start time, pid namespace)
 *   ...:h  hash: the payloads of each reservation ("l" lengths, "d" data)
 *   ...:c  channel: every change is published there
 * Every verb is one script (redis-queue-lua.c).  The limits count what
 * waits and what is in flight together, checked in the put script.
 *
 * Nothing lost, nothing doubled.  A get takes messages into a reservation
 * owned by itself, writes them out, and only then acknowledges them (the
 * next take of a stream does it in the same script).  While it writes, a
 * thread renews the reservation's lease (redis-lease.c: the renewer); a
 * lease handed to another owner is kept by a keeper process while that
 * owner lives (the same file).  A reservation comes back to the head of
 * the queue when its lease runs out (any host, judged by the server's
 * clock) or when its owner is seen dead from /proc by a process of the
 * same host (every getter about to wait, every info).
 *
 * Waits never poll: the waiter subscribes to ":c" and then looks again.
 * Streams batch: a put sends up to 8,192 messages per script, a take
 * returns up to max_count.
 */
#include "config.h"

#include "redis.h"
#include "redis-gate.h"
#include "redis-queue.h"
#include "clock.h"
#include "err.h"
#include "owner.h"
#include "queue.h"
#include "signals.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PUT_BATCH	8192
#define PUT_BYTES	(4u << 20)

static const struct mp_redis_lease_scripts queue_scripts = {
	&mp_redis_queue_renew_script, &mp_redis_queue_drop_script,
};

static const struct mp_owner *self(void)
{
	static struct mp_owner me;
	static pid_t pid;

	if (pid != getpid()) {
		if (mp_owner_of(0, &me))
			memset(&me, 0, sizeof me);
		me.pid = getpid();
		pid = getpid();
	}
	return &me;
}
/* ---- open ---- */

static int redis_queue_open(struct mp_store *s, const char *name, int create,
			    const struct mp_queue_params *p, int *created, struct mp_obj *o)
{
	struct mp_queue_params q = { 0, 0, 0 };
	char mi[24], mb[24], mm[24];
	const char *a[4] = { create ? "1" : "0", mi, mb, mm };
	redisReply *rep;
	int rc;

	if (p)
		q = *p;
	rc = mp_queue_params_fix(&q);
	if (rc)
		return rc;
	snprintf(mi, sizeof mi, "%" PRIu64, q.max_items);
	snprintf(mb, sizeof mb, "%" PRIu64, q.max_bytes);
	snprintf(mm, sizeof mm, "%" PRIu64, q.max_msg);
	mp_redis_obj_init(s, &mp_queue_kind, name, o);
	rc = mp_rq_eval(o, &mp_redis_queue_open_script, 4, a, NULL, &rep);
	if (!rc) {
		long long c = mp_rq_code(rep);

		if (c == -2) {
			/* the server cannot tell a queue it forgot from one
			 * that never was: say what it may be */
			mp_errmsg_set("no queue named '%s' (in %s; a server restarted without "
				      "persistence forgets every object)", name, s->dir);
			rc = -ENOENT;
		} else {
			rc = mp_rq_status(o, c);
		}
		if (!rc && rep->elements == 4) {
			for (int i = 0; i < 3; i++)
				robj(o)->qmax[i] = (uint64_t)rep->element[i + 1]->integer;
			if (created)
				*created = c == 1;
		}
		freeReplyObject(rep);
	}
	if (rc && o->close)
		o->close(o);
	return rc;
}
/* ---- put ---- */

static int put_some(struct mp_obj *o, const struct iovec *v, size_t n, size_t *nput, int *full)
{
	const char **a = malloc(n * sizeof *a);
	size_t *al = malloc(n * sizeof *al);
	redisReply *rep;
	long long st;
	int rc = -ENOMEM;

	if (a && al) {
		for (size_t i = 0; i < n; i++) {
			a[i] = v[i].iov_len ? v[i].iov_base : "";
			al[i] = v[i].iov_len;
		}
		rc = mp_rq_run(o, &mp_redis_queue_put_script, (int)n, a, al, &rep);
	}
	free(a);
	free(al);
	if (rc)
		return rc;
	st = mp_rq_code(rep);
	*nput = (size_t)rep->element[1]->integer;
	*full = st == 1;
	freeReplyObject(rep);
	if (st == -4) {
		mp_errmsg_set("a message of %zu bytes is over queue '%s''s --max-msg %" PRIu64,
			      v[*nput].iov_len, o->name, robj(o)->qmax[2]);
		return -EMSGSIZE;
	}
	return st == -5 ? MP_QUEUE_CLOSED : 0;
}

static int redis_queue_put(struct mp_obj *o, const struct iovec *v, size_t n,
			   int64_t deadline_ns, int nonblock, size_t *nput)
{
	struct mp_rq_wait w = { 0, 'p' };
	size_t done = 0;
	int rc = 0;

	while (done < n) {
		size_t k = 0, bytes = 0, got = 0;
		int full = 0;

		while (done + k < n && k < PUT_BATCH && (k == 0 || bytes + v[done + k].iov_len <= PUT_BYTES))
			bytes += v[done + k++].iov_len;
		rc = put_some(o, v + done, k, &got, &full);
		done += got;
		if (rc)
			break;
		if (!full)
			continue;
		if (got)
			continue;	/* room was made: try the rest at once */
		rc = mp_rq_wait_step(o, &w, deadline_ns, nonblock);
		if (rc)
			break;
	}
	mp_rq_wait_end(o, &w);
	if (nput)
		*nput = done;
	return rc;
}

/* ---- take (get, get --lease) ---- */

struct take {
	uint32_t max_count;
	size_t max_bytes;
	int strict;			/* the first over max_bytes: -ENOBUFS */
	const struct mp_owner *owner;	/* the reservation's owner */
	int leased;
	int64_t ttl_ns;
	int64_t deadline_ns;
	int nonblock;
};

/* Takes messages (waiting for the first), acking *prev first (it was
 * written; *prev becomes 0 once it is).  Returns 1 with *rep the reply
 * {1, token, messages...}, or MP_QUEUE_END, -ENOBUFS, -errno. */
static int take(struct mp_obj *o, const struct take *t, uint64_t *prev, redisReply **rep)
{
	char ptok[24], mc[16], mb[24], lease[24], ttl[24], me[16];
	struct mp_rq_owner_args oa = { 0 };
	const char *a[13] = { ptok, mc, mb, t->strict ? "1" : "0", t->leased ? "1" : "0" };
	int64_t lease_ns = robj(o)->s->lease_ns;
	struct mp_rq_wait w = { 0, 'g' };
	int rc;

	snprintf(mc, sizeof mc, "%" PRIu32, t->max_count ? t->max_count : 1);
	snprintf(mb, sizeof mb, "%zu", t->max_bytes);
	snprintf(lease, sizeof lease, "%lld", (long long)(lease_ns / 1000000));
	snprintf(ttl, sizeof ttl, "%lld", (long long)(t->ttl_ns > 0 ? (t->ttl_ns + 999999) / 1000000 : 0));
	mp_rq_owner_args(t->owner, &oa, a + 5);
	a[9] = lease;
	a[10] = ttl;
	a[11] = "1";	/* first: are there others of this host in flight? */
	snprintf(me, sizeof me, "%d", (int)getpid());
	a[12] = me;
	for (;;) {
		long long c;

		if (*prev)
			snprintf(ptok, sizeof ptok, "%" PRIu64, *prev);
		else
			ptok[0] = 0;
		rc = mp_rq_run(o, &mp_redis_queue_take_script, 13, a, NULL, rep);
		if (rc == -ENOTCONN && w.listed && !t->nonblock) {
			/* the server went away in a wait: again until -t (the
			 * previous batch is acked when it answers again) */
			rc = mp_redis_pause(t->deadline_ns);
			if (!rc)
				continue;
			rc = rc == -ETIMEDOUT ? -ENOTCONN : rc;
		}
		if (rc)
			break;
		*prev = 0;
		c = mp_rq_code(*rep);
		if (c == 2) {	/* the dead's messages go first */
			mp_rq_reap_local(o, *rep, 1);
			freeReplyObject(*rep);
			a[11] = "0";
			continue;
		}
		if (c == 1 && (*rep)->elements == 4) {
			rc = 1;
			break;
		}
		freeReplyObject(*rep);
		if (c == -1) {
			rc = MP_QUEUE_END;
			break;
		}
		if (c == -6) {
			rc = -ENOBUFS;
			break;
		}
		rc = mp_rq_wait_step(o, &w, t->deadline_ns, t->nonblock);
		if (rc)
			break;
		a[11] = "1";	/* before each new look, the dead of this host */
	}
	mp_rq_wait_end(o, &w);
	return rc;
}

/* The next message of a take's reply: *pos walks its lengths, *off its
 * payloads.  1 with *msg and *len, 0 at the end. */
static int next_msg(const redisReply *rep, const char **pos, size_t *off, const char **msg,
		    size_t *len)
{
	const redisReply *d = rep->element[3];
	char *end;
	unsigned long long l;

	while (**pos == ' ')
		(*pos)++;
	if (!**pos)
		return 0;
	l = strtoull(*pos, &end, 10);
	if (end == *pos || l > d->len - *off)
		return 0;
	*pos = end;
	*msg = d->str + *off;
	*len = (size_t)l;
	*off += (size_t)l;
	return 1;
}

static uint64_t token_of(const redisReply *rep)
{
	const redisReply *e = rep->element[1];

	return e->type == REDIS_REPLY_INTEGER ? (uint64_t)e->integer : strtoull(e->str, NULL, 10);
}

static int redis_queue_take(struct mp_obj *o, const struct mp_queue_take_req *r,
			    struct mp_queue_batch *b)
{
	struct take t = {
		.max_count = r->max_count ? r->max_count : 1, .max_bytes = r->max_bytes,
		.owner = self(), .deadline_ns = r->deadline_ns, .nonblock = r->nonblock,
	};
	uint64_t prev = b->pending ? b->token : 0;
	redisReply *rep;
	size_t need = 0;
	int rc;

	if (prev)
		mp_redis_renewer_stop(prev);
	rc = take(o, &t, &prev, &rep);
	if (!prev || rc == -EIDRM)	/* acked, or gone with the queue */
		b->pending = 0;
	if (rc != 1)
		return rc;
	const char *pos = rep->element[2]->str, *msg;
	size_t off = 0, len;
	uint32_t n = 0;

	for (const char *p = pos; *p; p++)
		n += *p == ' ';
	need = rep->element[3]->len + n + 1;
	rc = mp_queue_batch_reserve(b, need + 1, n + 1);
	if (!rc) {
		b->len = 0;
		b->count = 0;
		while (next_msg(rep, &pos, &off, &msg, &len)) {
			memcpy(b->buf + b->len, msg, len);
			b->len += len;
			if (r->sep >= 0)
				b->buf[b->len++] = (char)r->sep;
			b->ends[b->count++] = b->len;
		}
		b->token = token_of(rep);
		b->pending = 1;
		if (robj(o)->s->lease_ns)
			mp_redis_renewer_start_scripts(o, b->token, &queue_scripts);
		rc = (int)b->count;
	}
	freeReplyObject(rep);
	/* -ENOMEM: the reservation stays ours until its lease runs out */
	return rc;
}

/* Starts the keeper of a lease whose owner is a live process. */
static void keep(struct mp_obj *o, uint64_t token, const struct mp_owner *owner)
{
	if (owner && owner->pid && robj(o)->s->lease_ns)
		mp_redis_keeper_start_scripts(o, token, owner, &queue_scripts);
}

static int redis_queue_settle(struct mp_obj *o, struct mp_queue_batch *b, uint32_t written,
			      const struct mp_owner *lease_owner, int64_t ttl_ns, uint64_t *token)
{
	char tok[24], wr[16], lease[24], ttl[24];
	struct mp_rq_owner_args oa = { 0 };
	const char *a[9] = { tok, wr, lease_owner ? "1" : "0" };
	long long c;
	int rc;

	if (!b->pending)
		return 0;
	b->pending = 0;
	mp_redis_renewer_stop(b->token);
	snprintf(tok, sizeof tok, "%" PRIu64, b->token);
	snprintf(wr, sizeof wr, "%" PRIu32, written);
	mp_rq_owner_args(lease_owner, &oa, a + 3);
	snprintf(lease, sizeof lease, "%lld", (long long)(robj(o)->s->lease_ns / 1000000));
	snprintf(ttl, sizeof ttl, "%lld", (long long)(ttl_ns > 0 ? (ttl_ns + 999999) / 1000000 : 0));
	a[7] = lease;
	a[8] = ttl;
	rc = mp_rq_simple(o, &mp_redis_queue_settle_script, 9, a, &c);
	if (rc)
		return rc;
	if (c < 0) {
		mp_errmsg_set("the messages being written were handed back meanwhile");
		return -ENOENT;
	}
	if (lease_owner && written) {
		if (token)
			*token = b->token;
		keep(o, b->token, lease_owner);
	}
	return 0;
}

static int redis_queue_get_lease(struct mp_obj *o, const struct mp_queue_get_req *r, void *buf,
				 size_t cap, size_t *len, struct mp_queue_lease *lease)
{
	struct mp_queue_params p;
	struct take t = {
		.max_count = 1, .owner = &r->owner, .leased = 1, .ttl_ns = r->ttl_ns,
		.deadline_ns = r->deadline_ns, .nonblock = r->nonblock,
	};
	uint64_t prev = 0;
	redisReply *rep;
	int rc;

	mp_rq_get_params(o, &p);
	t.max_bytes = cap;
	t.strict = cap < p.max_msg;
	rc = take(o, &t, &prev, &rep);
	if (rc != 1)
		return rc;
	const char *pos = rep->element[2]->str, *msg = "";
	size_t off = 0;

	*len = 0;
	if (next_msg(rep, &pos, &off, &msg, len) && *len)
		memcpy(buf, msg, *len);
	memset(lease, 0, sizeof *lease);
	lease->token = token_of(rep);
	lease->count = 1;
	freeReplyObject(rep);
	keep(o, lease->token, &r->owner);
	return 0;
}

static int end_lease(struct mp_obj *o, const struct mp_queue_lease *l, int requeue)
{
	char tok[24];
	const char *a[2] = { tok, requeue ? "1" : "0" };
	long long c;
	int rc;

	snprintf(tok, sizeof tok, "%" PRIu64, l->token);
	rc = mp_rq_simple(o, &mp_redis_queue_end_script, 2, a, &c);
	if (!rc && c < 0) {
		mp_errmsg_set("lease %" PRIu64 " of '%s' is gone (its TTL ended or its owner was "
			      "thought dead; the message was delivered again)", l->token, o->name);
		rc = -ENOENT;
	}
	return rc;
}

static int redis_queue_ack(struct mp_obj *o, const struct mp_queue_lease *l)
{
	return end_lease(o, l, 0);
}

static int redis_queue_requeue(struct mp_obj *o, const struct mp_queue_lease *l)
{
	return end_lease(o, l, 1);
}
const struct mp_queue_ops mp_redis_queue_ops = {
	.open = redis_queue_open,
	.get_params = mp_rq_get_params,
	.put = redis_queue_put,
	.get_lease = redis_queue_get_lease,
	.ack = redis_queue_ack,
	.requeue = redis_queue_requeue,
	.done = mp_rq_done,
	.join = mp_rq_join,
	.close = mp_rq_close,
	.reopen = mp_rq_reopen,
	.info = mp_rq_info,
	.take = redis_queue_take,
	.settle = redis_queue_settle,
	.ack_owner = mp_rq_ack_owner,
};
