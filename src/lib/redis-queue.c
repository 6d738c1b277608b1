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

#define SLICE_NS	(1000 * 1000000LL)
#define PUT_BATCH	8192
#define PUT_BYTES	(4u << 20)

static const struct mp_redis_lease_scripts queue_scripts = {
	&mp_redis_queue_renew_script, &mp_redis_queue_drop_script,
};

static struct mp_robj *robj(const struct mp_obj *o)
{
	return o->impl;
}

static int eval(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
		const char *const *args, const size_t *lens, redisReply **rep)
{
	if (!o->impl)
		return -ENOMEM;
	return mp_redis_eval_len(robj(o)->s, sc, robj(o)->base, mp_redis_gate_keys, nargs, args,
				 lens, rep);
}

static int status_of(const struct mp_obj *o, long long v)
{
	if (v == -2) {
		mp_errmsg_set("queue '%s' is no longer on the server (removed, or the server "
			      "restarted without persistence)", o->name);
		return -EIDRM;
	}
	if (v == -3) {
		mp_errmsg_set("'%s' is not a queue", o->name);
		return -EMEDIUMTYPE;
	}
	return 0;
}

static long long code_of(const redisReply *rep)
{
	if (rep->type == REDIS_REPLY_ARRAY)
		return rep->elements ? rep->element[0]->integer : -1;
	return rep->integer;
}

/* Runs sc and turns "no such queue"/"not a queue" into errors. */
static int run(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
	       const char *const *args, const size_t *lens, redisReply **rep)
{
	int rc = eval(o, sc, nargs, args, lens, rep);

	if (rc)
		return rc;
	rc = status_of(o, code_of(*rep));
	if (rc)
		freeReplyObject(*rep);
	return rc;
}

static int simple(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
		  const char *const *args, long long *code)
{
	redisReply *rep;
	int rc = run(o, sc, nargs, args, NULL, &rep);

	if (rc)
		return rc;
	*code = code_of(rep);
	freeReplyObject(rep);
	return 0;
}

/* The owner as four script arguments: pid, start, pid namespace, host. */
struct owner_args {
	char pid[16], start[24], ns[24];
};

static void owner_args(const struct mp_owner *w, struct owner_args *a, const char **argv)
{
	snprintf(a->pid, sizeof a->pid, "%d", w ? w->pid : 0);
	snprintf(a->start, sizeof a->start, "%" PRIu64, w ? w->start : 0);
	snprintf(a->ns, sizeof a->ns, "%" PRIu64, w ? w->pidns : 0);
	argv[0] = a->pid;
	argv[1] = a->start;
	argv[2] = a->ns;
	argv[3] = mp_redis_host_id();
}

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
	rc = eval(o, &mp_redis_queue_open_script, 4, a, NULL, &rep);
	if (!rc) {
		long long c = code_of(rep);

		if (c == -2) {
			mp_errmsg_set("no queue named '%s' (in %s)", name, s->dir);
			rc = -ENOENT;
		} else {
			rc = status_of(o, c);
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

static const char *const sweep_no[1] = { "0" };

static void redis_queue_get_params(const struct mp_obj *o, struct mp_queue_params *p)
{
	memset(p, 0, sizeof *p);
	if (!o->impl)
		return;
	if (!robj(o)->qmax[0]) {	/* found by the common verbs: ask once */
		redisReply *rep;

		if (!run(o, &mp_redis_queue_info_script, 1, sweep_no, NULL, &rep)) {
			if (rep->elements >= 17)
				for (int i = 0; i < 3; i++)
					robj(o)->qmax[i] = (uint64_t)rep->element[13 + i]->integer;
			freeReplyObject(rep);
		}
	}
	p->max_items = robj(o)->qmax[0];
	p->max_bytes = robj(o)->qmax[1];
	p->max_msg = robj(o)->qmax[2];
}

/* ---- waiting ---- */

/* Lists this process as waiting (on: 'g' to get or join, 'p' to put) or
 * takes it off the list (on 0), for info's counts. */
static void waiter(struct mp_obj *o, int on, char what)
{
	static char field[200];
	const char *a[2] = { field, on ? "1" : "0" };
	redisReply *rep;

	snprintf(field, sizeof field, "w%c %s:%d", on ? on : what, mp_redis_host_id(), (int)getpid());
	if (!eval(o, &mp_redis_queue_waiter_script, 2, a, NULL, &rep))
		freeReplyObject(rep);
}

/* A wait of this process: listed as a waiter (for info) while it lasts. */
struct qwait {
	int listed;
	char what;	/* 'g' a getter or joiner, 'p' a putter */
};

/* Ends a wait: off the list (the subscription stays for the next). */
static void wait_end(struct mp_obj *o, struct qwait *w)
{
	if (w->listed)
		waiter(o, 0, w->what);
	w->listed = 0;
}

/* One step of a wait that found nothing to do.  The object's subscriber
 * connection is made at the first wait and kept, so every change since
 * then is buffered there: a new one returns at once for the caller to
 * look again (no change is missed); later steps wait for a change or a
 * slice (then the caller looks again too).  0 or -errno. */
static int wait_step(struct mp_obj *o, struct qwait *w, int64_t deadline_ns, int nonblock)
{
	const char *bases[1] = { robj(o)->base };
	redisContext **sub = &robj(o)->sub;
	int64_t end = mp_now_ns() + SLICE_NS;
	char msg[16];
	int idx, rc;

	if (nonblock)
		return -EAGAIN;
	if (mp_signal_pending)
		return -EINTR;
	if (deadline_ns && mp_now_ns() >= deadline_ns)
		return -ETIMEDOUT;
	if (!w->listed) {
		waiter(o, w->what, w->what);
		w->listed = 1;
	}
	if (!*sub) {
		rc = mp_redis_waiter(robj(o)->s, sub, bases, 1);
	} else {
		if (deadline_ns && deadline_ns < end)
			end = deadline_ns;
		rc = mp_redis_next_message(*sub, bases, 1, end, &idx, msg, sizeof msg);
		if (rc == 1 && msg[0] == 'r') {
			mp_errmsg_set("queue '%s' was removed", o->name);
			return -EIDRM;
		}
		if (rc == 0)
			waiter(o, w->what, w->what);	/* still here, every slice */
		rc = rc < 0 ? rc : 0;
	}
	if (rc == -ENOTCONN)
		rc = mp_redis_rewait(robj(o)->s, sub, bases, 1, deadline_ns);
	return rc;
}

/* Hands back what dead owners of this host hold (judged from /proc):
 * w's elements from the first-th are tokens and records. */
static void reap_local(struct mp_obj *o, redisReply *w, size_t first)
{
	const char *me = mp_redis_host_id();

	for (size_t i = first; i + 1 < w->elements; i += 2) {
		struct mp_owner ow = { 0 };
		unsigned long long c, b, st, ns;
		int l, p, at = 0;
		long long s, x, t;
		const char *rec = w->element[i + 1]->str;
		redisReply *r2;

		if (sscanf(rec, "%llu %llu %d %lld %lld %lld %d %llu %llu %n", &c, &b, &l, &s, &x,
			   &t, &p, &st, &ns, &at) < 9 || !at || strcmp(rec + at, me) || p == 0)
			continue;
		ow.pid = p, ow.start = st, ow.pidns = ns;
		if (mp_owner_alive(&ow))
			continue;
		char sts[24], ps[16];
		const char *a[3] = { w->element[i]->str, sts, ps };
		snprintf(sts, sizeof sts, "%llu", st);
		snprintf(ps, sizeof ps, "%d", p);
		if (!eval(o, &mp_redis_queue_drop_script, 3, a, NULL, &r2))
			freeReplyObject(r2);
	}
}

static int read_info(struct mp_obj *o, int sweep, redisReply **rep)
{
	const char *a[1] = { sweep ? "1" : "0" };
	int rc = run(o, &mp_redis_queue_info_script, 1, a, NULL, rep);

	if (!rc && (*rep)->elements != 19) {
		freeReplyObject(*rep);
		return -EPROTO;
	}
	return rc;
}

static void reap(struct mp_obj *o)
{
	redisReply *rep;

	if (!read_info(o, 1, &rep)) {
		reap_local(o, rep->element[16], 0);
		freeReplyObject(rep);
	}
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
		rc = run(o, &mp_redis_queue_put_script, (int)n, a, al, &rep);
	}
	free(a);
	free(al);
	if (rc)
		return rc;
	st = code_of(rep);
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
	struct qwait w = { 0, 'p' };
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
		rc = wait_step(o, &w, deadline_ns, nonblock);
		if (rc)
			break;
	}
	wait_end(o, &w);
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
	struct owner_args oa;
	const char *a[13] = { ptok, mc, mb, t->strict ? "1" : "0", t->leased ? "1" : "0" };
	int64_t lease_ns = robj(o)->s->lease_ns;
	struct qwait w = { 0, 'g' };
	int rc;

	snprintf(mc, sizeof mc, "%" PRIu32, t->max_count ? t->max_count : 1);
	snprintf(mb, sizeof mb, "%zu", t->max_bytes);
	snprintf(lease, sizeof lease, "%lld", (long long)(lease_ns / 1000000));
	snprintf(ttl, sizeof ttl, "%lld", (long long)(t->ttl_ns > 0 ? (t->ttl_ns + 999999) / 1000000 : 0));
	owner_args(t->owner, &oa, a + 5);
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
		rc = run(o, &mp_redis_queue_take_script, 13, a, NULL, rep);
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
		c = code_of(*rep);
		if (c == 2) {	/* the dead's messages go first */
			reap_local(o, *rep, 1);
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
		rc = wait_step(o, &w, t->deadline_ns, t->nonblock);
		if (rc)
			break;
		a[11] = "1";	/* before each new look, the dead of this host */
	}
	wait_end(o, &w);
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
	struct owner_args oa;
	const char *a[9] = { tok, wr, lease_owner ? "1" : "0" };
	long long c;
	int rc;

	if (!b->pending)
		return 0;
	b->pending = 0;
	mp_redis_renewer_stop(b->token);
	snprintf(tok, sizeof tok, "%" PRIu64, b->token);
	snprintf(wr, sizeof wr, "%" PRIu32, written);
	owner_args(lease_owner, &oa, a + 3);
	snprintf(lease, sizeof lease, "%lld", (long long)(robj(o)->s->lease_ns / 1000000));
	snprintf(ttl, sizeof ttl, "%lld", (long long)(ttl_ns > 0 ? (ttl_ns + 999999) / 1000000 : 0));
	a[7] = lease;
	a[8] = ttl;
	rc = simple(o, &mp_redis_queue_settle_script, 9, a, &c);
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

	redis_queue_get_params(o, &p);
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
	rc = simple(o, &mp_redis_queue_end_script, 2, a, &c);
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

/* ---- done, join, close ---- */

static int redis_queue_done(struct mp_obj *o, uint64_t n)
{
	char ns[24];
	const char *a[1] = { ns };
	redisReply *rep;
	int rc;

	snprintf(ns, sizeof ns, "%" PRIu64, n);
	rc = run(o, &mp_redis_queue_done_script, 1, a, NULL, &rep);
	if (rc)
		return rc;
	if (code_of(rep) == -12) {
		long long un = rep->element[1]->integer;
		mp_errmsg_set("done %" PRIu64 ": only %lld message%s of '%s' %s unfinished "
			      "(more dones than puts)", n, un, un == 1 ? "" : "s", o->name,
			      un == 1 ? "is" : "are");
		rc = -ERANGE;
	}
	freeReplyObject(rep);
	return rc;
}

static int redis_queue_join(struct mp_obj *o, int64_t deadline_ns, int nonblock)
{
	struct qwait w = { 0, 'g' };
	redisReply *rep;
	int rc;

	for (;;) {
		rc = read_info(o, 0, &rep);
		if (rc)
			break;
		int zero = rep->element[4]->integer == 0;
		freeReplyObject(rep);
		if (zero)
			break;
		rc = wait_step(o, &w, deadline_ns, nonblock);
		if (rc)
			break;
	}
	wait_end(o, &w);
	return rc;
}

static int redis_queue_close(struct mp_obj *o)
{
	long long c;

	return simple(o, &mp_redis_queue_close_script, 0, NULL, &c);
}

/* ---- info, ack by owner ---- */

/* A reservation's record (see redis-queue-lua.c) into li; server_ms is
 * the server's clock now, for the expiry on this host's clock. */
static void lease_of(const char *tok, const char *rec, int64_t server_ms,
		     struct mp_queue_lease_info *li)
{
	unsigned long long c = 0, b = 0, st = 0, ns = 0;
	long long s = 0, x = 0, t = 0;
	int l = 0, p = 0;
	int64_t end;

	memset(li, 0, sizeof *li);
	sscanf(rec, "%llu %llu %d %lld %lld %lld %d %llu %llu", &c, &b, &l, &s, &x, &t, &p, &st, &ns);
	li->token = strtoull(tok, NULL, 10);
	li->count = (uint32_t)c;
	li->leased = l == 1;
	li->bytes = b;
	li->since_ns = s * 1000000LL;
	end = t > 0 ? t : 0;
	if (x > 0 && (!end || x < end))
		end = x;
	li->expires_ns = li->leased && end ? mp_now_ns() + (end - server_ms) * 1000000LL : 0;
	li->owner.pid = p;
	li->owner.start = st;
	li->owner.pidns = ns;
}

static int redis_queue_info(struct mp_obj *o, struct mp_queue_info *qi,
			    struct mp_queue_lease_info *leases, int max)
{
	redisReply *rep, *w;
	int rc, n;

	reap(o);
	rc = read_info(o, 1, &rep);
	if (rc)
		return rc;
	memset(qi, 0, sizeof *qi);
	qi->items = (uint64_t)rep->element[0]->integer;
	qi->bytes = (uint64_t)rep->element[1]->integer;
	qi->in_flight = (uint64_t)rep->element[2]->integer;
	qi->in_flight_bytes = (uint64_t)rep->element[3]->integer;
	qi->unfinished = (uint64_t)rep->element[4]->integer;
	qi->puts = (uint64_t)rep->element[5]->integer;
	qi->acks = (uint64_t)rep->element[6]->integer;
	qi->redelivered = (uint64_t)rep->element[7]->integer;
	qi->closed = rep->element[8]->integer == 1;
	qi->generation = (uint64_t)rep->element[9]->integer;
	qi->created_ns = rep->element[10]->integer * 1000000LL;
	qi->changed_ns = rep->element[11]->integer * 1000000LL;
	for (int i = 0; i < 3; i++)
		robj(o)->qmax[i] = (uint64_t)rep->element[13 + i]->integer;
	redis_queue_get_params(o, &qi->params);
	/* no ring: the limits are the room */
	qi->ring_size = qi->params.max_bytes + 16;
	qi->ring_used = qi->bytes + qi->in_flight_bytes;
	w = rep->element[16];
	n = (int)(w->elements / 2);
	qi->nleases = (uint32_t)n;
	qi->getters = (uint32_t)rep->element[17]->integer;
	qi->putters = (uint32_t)rep->element[18]->integer;
	for (int i = 0; i < n && i < max && leases; i++)
		lease_of(w->element[2 * i]->str, w->element[2 * i + 1]->str,
			 rep->element[12]->integer, &leases[i]);
	freeReplyObject(rep);
	return n;
}

static int redis_queue_ack_owner(struct mp_obj *o, const struct mp_owner *who, uint64_t token,
				 int force, struct mp_queue_lease_info *out)
{
	char tok[24];
	struct owner_args oa;
	const char *a[5] = { tok, force ? "1" : "0" };
	const char *ow[4];
	redisReply *rep;
	long long c;
	int rc;

	reap(o);
	snprintf(tok, sizeof tok, "%" PRIu64, token);
	owner_args(who, &oa, ow);
	a[2] = ow[0];
	a[3] = ow[1];
	a[4] = ow[3];
	rc = run(o, &mp_redis_queue_ack_owner_script, 5, a, NULL, &rep);
	if (rc)
		return rc;
	c = code_of(rep);
	if (c == 0 && rep->elements == 3) {
		char t[24];
		snprintf(t, sizeof t, "%lld", rep->element[1]->integer);
		if (out)
			lease_of(t, rep->element[2]->str, 0, out);
	}
	freeReplyObject(rep);
	return c == -10 ? -EPERM : c == -11 ? -ENOENT : 0;
}

const struct mp_queue_ops mp_redis_queue_ops = {
	.open = redis_queue_open,
	.get_params = redis_queue_get_params,
	.put = redis_queue_put,
	.get_lease = redis_queue_get_lease,
	.ack = redis_queue_ack,
	.requeue = redis_queue_requeue,
	.done = redis_queue_done,
	.join = redis_queue_join,
	.close = redis_queue_close,
	.info = redis_queue_info,
	.take = redis_queue_take,
	.settle = redis_queue_settle,
	.ack_owner = redis_queue_ack_owner,
};
