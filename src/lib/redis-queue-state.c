/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-queue-state.c - the queue on a Redis store: what its verbs share
 * (scripts' calls, owners, waiting, reaping the dead of this host) and
 * the verbs about its state (done, join, close, info, ack by owner); see
 * redis-queue.c. */
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


int mp_rq_eval(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
		const char *const *args, const size_t *lens, redisReply **rep)
{
	if (!o->impl)
		return -ENOMEM;
	return mp_redis_eval_len(robj(o)->s, sc, robj(o)->base, mp_redis_gate_keys, nargs, args,
				 lens, rep);
}

int mp_rq_status(const struct mp_obj *o, long long v)
{
	return mp_redis_kind_status(o, v, "queue", "a queue");
}

long long mp_rq_code(const redisReply *rep)
{
	if (rep->type == REDIS_REPLY_ARRAY)
		return rep->elements ? rep->element[0]->integer : -1;
	return rep->integer;
}

/* Runs sc and turns "no such queue"/"not a queue" into errors. */
int mp_rq_run(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
	       const char *const *args, const size_t *lens, redisReply **rep)
{
	int rc = mp_rq_eval(o, sc, nargs, args, lens, rep);

	if (rc)
		return rc;
	rc = mp_rq_status(o, mp_rq_code(*rep));
	if (rc)
		freeReplyObject(*rep);
	return rc;
}

int mp_rq_simple(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
		  const char *const *args, long long *code)
{
	redisReply *rep;
	int rc = mp_rq_run(o, sc, nargs, args, NULL, &rep);

	if (rc)
		return rc;
	*code = mp_rq_code(rep);
	freeReplyObject(rep);
	return 0;
}

/* The owner as four script arguments: pid, start, pid namespace, host. */

void mp_rq_owner_args(const struct mp_owner *w, struct mp_rq_owner_args *a, const char **argv)
{
	snprintf(a->pid, sizeof a->pid, "%d", w ? w->pid : 0);
	snprintf(a->start, sizeof a->start, "%" PRIu64, w ? w->start : 0);
	snprintf(a->ns, sizeof a->ns, "%" PRIu64, w ? w->pidns : 0);
	argv[0] = a->pid;
	argv[1] = a->start;
	argv[2] = a->ns;
	argv[3] = mp_redis_host_id();
}
static const char *const sweep_no[1] = { "0" };

void mp_rq_get_params(const struct mp_obj *o, struct mp_queue_params *p)
{
	memset(p, 0, sizeof *p);
	if (!o->impl)
		return;
	if (!robj(o)->qmax[0]) {	/* found by the common verbs: ask once */
		redisReply *rep;

		if (!mp_rq_run(o, &mp_redis_queue_info_script, 1, sweep_no, NULL, &rep)) {
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
	if (!mp_rq_eval(o, &mp_redis_queue_waiter_script, 2, a, NULL, &rep))
		freeReplyObject(rep);
}


/* Ends a wait: off the list (the subscription stays for the next). */
void mp_rq_wait_end(struct mp_obj *o, struct mp_rq_wait *w)
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
int mp_rq_wait_step(struct mp_obj *o, struct mp_rq_wait *w, int64_t deadline_ns, int nonblock)
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
void mp_rq_reap_local(struct mp_obj *o, redisReply *w, size_t first)
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
		if (!mp_rq_eval(o, &mp_redis_queue_drop_script, 3, a, NULL, &r2))
			freeReplyObject(r2);
	}
}

static int mp_rq_read_info(struct mp_obj *o, int sweep, redisReply **rep)
{
	const char *a[1] = { sweep ? "1" : "0" };
	int rc = mp_rq_run(o, &mp_redis_queue_info_script, 1, a, NULL, rep);

	if (!rc && (*rep)->elements != 19) {
		freeReplyObject(*rep);
		return -EPROTO;
	}
	return rc;
}

static void mp_rq_reap(struct mp_obj *o)
{
	redisReply *rep;

	if (!mp_rq_read_info(o, 1, &rep)) {
		mp_rq_reap_local(o, rep->element[16], 0);
		freeReplyObject(rep);
	}
}
/* ---- done, join, close ---- */

int mp_rq_done(struct mp_obj *o, uint64_t n)
{
	char ns[24];
	const char *a[1] = { ns };
	redisReply *rep;
	int rc;

	snprintf(ns, sizeof ns, "%" PRIu64, n);
	rc = mp_rq_run(o, &mp_redis_queue_done_script, 1, a, NULL, &rep);
	if (rc)
		return rc;
	if (mp_rq_code(rep) == -12) {
		long long un = rep->element[1]->integer;
		mp_errmsg_set("done %" PRIu64 ": only %lld message%s of '%s' %s unfinished "
			      "(more dones than puts)", n, un, un == 1 ? "" : "s", o->name,
			      un == 1 ? "is" : "are");
		rc = -ERANGE;
	}
	freeReplyObject(rep);
	return rc;
}

int mp_rq_join(struct mp_obj *o, int64_t deadline_ns, int nonblock)
{
	struct mp_rq_wait w = { 0, 'g' };
	redisReply *rep;
	int rc;

	for (;;) {
		rc = mp_rq_read_info(o, 0, &rep);
		if (rc)
			break;
		int zero = rep->element[4]->integer == 0;
		freeReplyObject(rep);
		if (zero)
			break;
		rc = mp_rq_wait_step(o, &w, deadline_ns, nonblock);
		if (rc)
			break;
	}
	mp_rq_wait_end(o, &w);
	return rc;
}

int mp_rq_close(struct mp_obj *o)
{
	long long c;

	return mp_rq_simple(o, &mp_redis_queue_close_script, 0, NULL, &c);
}

int mp_rq_reopen(struct mp_obj *o)
{
	long long c;

	return mp_rq_simple(o, &mp_redis_queue_reopen_script, 0, NULL, &c);
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

int mp_rq_info(struct mp_obj *o, struct mp_queue_info *qi,
			    struct mp_queue_lease_info *leases, int max)
{
	redisReply *rep, *w;
	int rc, n;

	mp_rq_reap(o);
	rc = mp_rq_read_info(o, 1, &rep);
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
	mp_rq_get_params(o, &qi->params);
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

int mp_rq_ack_owner(struct mp_obj *o, const struct mp_owner *who, uint64_t token,
				 int force, struct mp_queue_lease_info *out)
{
	char tok[24];
	struct mp_rq_owner_args oa = { 0 };
	const char *a[5] = { tok, force ? "1" : "0" };
	const char *ow[4];
	redisReply *rep;
	long long c;
	int rc;

	mp_rq_reap(o);
	snprintf(tok, sizeof tok, "%" PRIu64, token);
	mp_rq_owner_args(who, &oa, ow);
	a[2] = ow[0];
	a[3] = ow[1];
	a[4] = ow[3];
	rc = mp_rq_run(o, &mp_redis_queue_ack_owner_script, 5, a, NULL, &rep);
	if (rc)
		return rc;
	c = mp_rq_code(rep);
	if (c == 0 && rep->elements == 3) {
		char t[24];
		snprintf(t, sizeof t, "%lld", rep->element[1]->integer);
		if (out)
			lease_of(t, rep->element[2]->str, 0, out);
	}
	freeReplyObject(rep);
	return c == -10 ? -EPERM : c == -11 ? -ENOENT : 0;
}
