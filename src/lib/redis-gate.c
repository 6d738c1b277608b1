/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-gate.c - locks and semaphores on a Redis server; see redis.h.
 *
 * The gate of gate.h, kept in the keys of PREFIX:{lock|sem:NAME}: ":m"
 * (kind, capacity, last token and ticket, counts), ":h" (a hold per
 * token: "weight flags token since ttl_end lease_end host pid start
 * helper_pid helper_start"), ":q" (the waiting tickets in order) and
 * ":w" (each waiter: "weight alive_until host pid start since").
 *
 * Invariant: the state changes only inside one script, which first drops
 * what is over (a TTL or lease that ran out, a waiter that stopped coming
 * back), so a client killed anywhere leaves whole state.  A hold with a
 * live owner has a lease: renewed by a thread of this process while it is
 * the owner (run: the wrapper), else by a keeper process that watches the
 * owner and releases when it dies (acquire).  Owners on this host are
 * also judged from /proc by every waiter, so a dead local holder goes
 * within a slice, not a lease.
 */
#include "config.h"

#include "redis.h"
#include "redis-gate.h"
#include "clock.h"
#include "err.h"
#include "gate.h"
#include "lock.h"
#include "owner.h"
#include "sem.h"
#include "signals.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLICE_NS	(250 * 1000000LL)	/* a waiter looks again at least this often */

/* ---- holds as the rest of the library sees them ---- */

struct rhold {
	uint32_t w, f;
	uint64_t t;
	int64_t s, x, l;
	char h[160];
	int p, hp, sl;
	uint64_t st, hs, ns;
};

static int parse_hold(const char *str, struct rhold *v)
{
	long long s, x, l;
	int n = sscanf(str, "%" SCNu32 " %" SCNu32 " %" SCNu64 " %lld %lld %lld %159s %d %" SCNu64
		       " %d %" SCNu64 " %" SCNu64 " %d", &v->w, &v->f, &v->t, &s, &x, &l, v->h, &v->p,
		       &v->st, &v->hp, &v->hs, &v->ns, &v->sl);

	v->s = s, v->x = x, v->l = l;
	return n == 13 ? 0 : -EBADMSG;
}

static void hold_out(const struct rhold *v, int64_t server_ms, struct mp_hold *out)
{
	memset(out, 0, sizeof *out);
	out->weight = v->w;
	out->flags = v->f;
	out->token = v->t;
	out->since_ns = v->s * 1000000LL;
	/* a TTL's end on the caller's clock */
	if (v->x)
		out->expires_ns = mp_now_ns() + (v->x - server_ms) * 1000000LL;
	out->owner.pid = v->p;
	out->owner.start = v->st;
	out->helper.pid = v->hp;
	out->helper.start = v->hs;
}

static struct mp_robj *robj(struct mp_obj *o)
{
	return o->impl;
}

static int eval(struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
		const char *const *args, redisReply **rep)
{
	if (!o->impl)
		return -ENOMEM;
	return mp_redis_eval(robj(o)->s, sc, robj(o)->base, mp_redis_gate_keys, nargs, args, rep);
}

static int removed(struct mp_obj *o)
{
	mp_errmsg_set("%s '%s' is no longer on the server (removed, or the server restarted "
		      "without persistence)", o->kind->name, o->name);
	return -EIDRM;
}

/* ---- open ---- */

/* Opens (create_cap > 0: creating with that many units, of which
 * create_held start held with no owner) gate NAME of kind k. */
static int gate_open(struct mp_store *s, const struct mp_kind *k, const char *name,
		     uint32_t create_cap, uint32_t create_held, int *created, struct mp_obj *o)
{
	char cap[16], held[16];
	const char *args[4] = { k->name, cap, held, mp_redis_host_id() };
	redisReply *rep;
	int rc;

	snprintf(cap, sizeof cap, "%" PRIu32, create_cap);
	snprintf(held, sizeof held, "%" PRIu32, create_held);
	mp_redis_obj_init(s, k, name, o);
	rc = eval(o, &mp_redis_gate_open_script, 4, args, &rep);
	if (rc)
		goto fail;
	rc = (int)rep->element[0]->integer;
	if (rc >= 0) {
		if (created)
			*created = rc;
		robj(o)->cap = (uint32_t)rep->element[1]->integer;
		rc = 0;
	} else if (rc == -2) {
		mp_errmsg_set("no %s named '%s' (in %s)", k->name, name, s->dir);
		rc = -ENOENT;
	} else {
		mp_errmsg_set("'%s' in %s is not a %s", name, s->dir, k->name);
		rc = -EMEDIUMTYPE;
	}
	freeReplyObject(rep);
	if (!rc)
		return 0;
fail:
	free(o->impl);
	o->impl = NULL;
	return rc;
}

static int redis_lock_open(struct mp_store *s, const char *name, int create, struct mp_obj *o)
{
	return gate_open(s, &mp_lock_kind, name, create ? MP_LOCK_MAX_SHARED : 0, 0, NULL, o);
}

static int redis_sem_open(struct mp_store *s, const char *name, uint32_t create_slots,
			  int *created, struct mp_obj *o)
{
	return gate_open(s, &mp_sem_kind, name, create_slots, 0, created, o);
}

static int redis_sem_open_value(struct mp_store *s, const char *name, uint32_t create_slots,
				uint32_t create_free, int *created, struct mp_obj *o)
{
	return gate_open(s, &mp_sem_kind, name, create_slots,
			 create_free < create_slots ? create_slots - create_free : 0, created, o);
}

static uint32_t redis_sem_slots(const struct mp_obj *o)
{
	return o->impl ? ((const struct mp_robj *)o->impl)->cap : 0;
}

/* ---- owners of this host ---- */

static void cancel(struct mp_obj *o, uint64_t ticket);

/* Waiters of this host (and pid namespace) that are gone or stopped
 * (SIGSTOP, Ctrl-Z) leave the queue now, not when their place runs out,
 * so a stopped head does not keep the others waiting: w is {ticket,
 * "weight alive host pid start pidns since", ...}.  A stopped waiter that
 * runs again comes back with its ticket, so it keeps its place. */
static void reap_waiters(struct mp_obj *o, redisReply *w, const char *me)
{
	for (size_t i = 0; i + 1 < w->elements; i += 2) {
		struct mp_owner who = { 0 };
		char host[160];
		long long alive;
		unsigned weight;

		if (sscanf(w->element[i + 1]->str, "%u %lld %159s %d %" SCNu64 " %" SCNu64, &weight,
			   &alive, host, &who.pid, &who.start, &who.pidns) != 6 ||
		    strcmp(host, me) || who.pid <= 0 || mp_owner_waiting(&who))
			continue;
		cancel(o, strtoull(w->element[i]->str, NULL, 10));
	}
}

/* Drops the holds and waiters of this host whose processes are gone (and
 * the waiters that are stopped): a dead local holder goes within a slice,
 * not a lease. */
static void reap_local(struct mp_obj *o)
{
	const char *args[1] = { o->kind->name };
	const char *me = mp_redis_host_id();
	redisReply *rep;

	if (eval(o, &mp_redis_gate_info_script, 1, args, &rep))
		return;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 10) {
		redisReply *h = rep->element[8];
		for (size_t i = 0; i < h->elements; i++) {
			struct rhold v;
			struct mp_owner ow = { 0 }, hp = { 0 };
			char tok[24], st[24];
			const char *a[2] = { tok, st };
			redisReply *r2;

			if (parse_hold(h->element[i]->str, &v) || strcmp(v.h, me) || v.p == 0)
				continue;
			/* judged from /proc only in the holder's own pid namespace
			 * (mp_owner_alive says "alive" for any other) */
			ow.pid = v.p, ow.start = v.st, ow.pidns = v.ns;
			hp.pid = v.hp, hp.start = v.hs, hp.pidns = v.ns;
			if (mp_owner_alive(&ow) || (hp.pid && mp_owner_alive(&hp)))
				continue;
			snprintf(tok, sizeof tok, "%" PRIu64, v.t);
			snprintf(st, sizeof st, "%" PRIu64, v.st);
			if (!eval(o, &mp_redis_drop_script, 2, a, &r2))
				freeReplyObject(r2);
		}
		reap_waiters(o, rep->element[9], me);
	}
	freeReplyObject(rep);
}

/* ---- the operations ---- */

static int acquire_result(struct mp_obj *o, redisReply *rep, uint64_t *ticket, uint64_t *token,
			  int *slot)
{
	long long st = rep->element[0]->integer;

	switch (st) {
	case 1:
		*token = (uint64_t)rep->element[1]->integer;
		*slot = (int)rep->element[2]->integer;
		return 1;
	case 2:
		*ticket = (uint64_t)rep->element[2]->integer;
		return 0;
	case 0:
		return -EAGAIN;
	case -2:
		return *ticket ? removed(o) : -ENOENT;
	case -3:
		mp_errmsg_set("'%s' is not a %s", o->name, o->kind->name);
		return -EMEDIUMTYPE;
	default:
		return -EDEADLK;
	}
}

static void cancel(struct mp_obj *o, uint64_t ticket)
{
	char tk[24];
	const char *a[1] = { tk };
	redisReply *rep;

	snprintf(tk, sizeof tk, "%" PRIu64, ticket);
	if (ticket && !eval(o, &mp_redis_gate_cancel_script, 1, a, &rep))
		freeReplyObject(rep);
}

/* One attempt: 1 granted, 0 wait, or -errno. */
static int try_acquire(struct mp_obj *o, const struct mp_gate_req *r, int create, uint64_t *ticket,
		       uint64_t *token, int *slot)
{
	char cap[16], tk[24], w[16], f[16], pid[16], start[24], ttl[24], lease[24], hp[16], hs[24];
	char mpid[16], mstart[24], ns[24], mns[24];
	const char *args[17] = { o->kind->name, cap, tk, w, f, mp_redis_host_id(), pid, start, ttl,
				 lease, r->nonblock ? "1" : "0", hp, hs, mpid, mstart, ns, mns };
	static struct mp_owner self;
	int64_t lease_ns = r->owner.pid ? robj(o)->s->lease_ns : 0;
	redisReply *rep;
	int rc;

	snprintf(cap, sizeof cap, "%" PRIu32, create ? robj(o)->cap : 0);
	snprintf(tk, sizeof tk, "%" PRIu64, *ticket);
	snprintf(w, sizeof w, "%" PRIu32, r->weight);
	snprintf(f, sizeof f, "%" PRIu32, r->flags);
	snprintf(pid, sizeof pid, "%d", r->owner.pid);
	snprintf(start, sizeof start, "%" PRIu64, r->owner.start);
	snprintf(ttl, sizeof ttl, "%lld", (long long)(r->ttl_ns / 1000000));
	snprintf(lease, sizeof lease, "%lld", (long long)(lease_ns / 1000000));
	snprintf(hp, sizeof hp, "%d", r->helper.pid);
	snprintf(hs, sizeof hs, "%" PRIu64, r->helper.start);
	if (self.pid != getpid() && mp_owner_of(0, &self))
		self.pid = 0;
	snprintf(mpid, sizeof mpid, "%d", self.pid ? self.pid : -1);
	snprintf(mstart, sizeof mstart, "%" PRIu64, self.start);
	snprintf(ns, sizeof ns, "%" PRIu64, r->owner.pid ? r->owner.pidns : self.pidns);
	snprintf(mns, sizeof mns, "%" PRIu64, self.pidns);
	rc = eval(o, &mp_redis_gate_acquire_script, 17, args, &rep);
	if (rc)
		return rc;
	rc = acquire_result(o, rep, ticket, token, slot);
	freeReplyObject(rep);
	return rc;
}

/* Sleeps until the gate changes (or a slice passes): 0, or -ETIMEDOUT,
 * -EINTR, -EIDRM, -ENOTCONN. */
static int gate_sleep(struct mp_obj *o, redisContext *sub, int64_t deadline_ns)
{
	int rc = mp_redis_sleep(sub, robj(o)->base, SLICE_NS, deadline_ns);

	return rc == -EIDRM ? removed(o) : rc;
}

static int waiter_connection(struct mp_obj *o, redisContext **sub)
{
	const char *bases[1] = { robj(o)->base };

	return mp_redis_waiter(robj(o)->s, sub, bases, 1);
}

static int reconnect(struct mp_obj *o, redisContext **sub, int64_t deadline_ns)
{
	const char *bases[1] = { robj(o)->base };

	return mp_redis_rewait(robj(o)->s, sub, bases, 1, deadline_ns);
}

int mp_redis_self_keeper;

static void after_grant(struct mp_obj *o, const struct mp_gate_req *r, uint64_t token)
{
	if (!r->owner.pid || !robj(o)->s->lease_ns)
		return;		/* --owner none: until released or its TTL */
	if (r->owner.pid == getpid() && !mp_redis_self_keeper)
		mp_redis_renewer_start(o, token);
	else
		mp_redis_keeper_start(o, token, &r->owner);
}

static int redis_gate_acquire(struct mp_obj *o, const struct mp_gate_req *r, uint64_t *token,
			      int *idx)
{
	redisContext *sub = NULL;
	uint64_t ticket = 0;
	int rc, first = 1;

	*idx = 0;
	for (;;) {
		rc = try_acquire(o, r, 0, &ticket, token, idx);
		if (rc == -EAGAIN && first) {
			/* -n: a holder of this host that died is no holder
			 * (as on the local store), whether or not its keeper
			 * has released yet */
			reap_local(o);
			rc = try_acquire(o, r, 0, &ticket, token, idx);
		}
		if (rc == -ENOENT)
			rc = removed(o);
		if (rc == -ENOTCONN && !first && !r->nonblock) {
			/* the server went away mid-wait: keep trying until the
			 * deadline; the ticket keeps our place if it comes back */
			rc = reconnect(o, &sub, r->deadline_ns);
			if (rc == 0)
				continue;
		}
		if (rc != 0)
			break;
		if (first) {
			/* subscribed before the next look: no change is missed */
			first = 0;
			rc = waiter_connection(o, &sub);
			if (rc)
				break;
			continue;
		}
		reap_local(o);
		rc = gate_sleep(o, sub, r->deadline_ns);
		if (rc == -ENOTCONN)
			rc = reconnect(o, &sub, r->deadline_ns);
		if (rc)
			break;
	}
	if (rc < 0)
		cancel(o, ticket);
	if (sub)
		redisFree(sub);
	if (rc == 1) {
		after_grant(o, r, *token);
		return 0;
	}
	return rc;
}

static int redis_gate_set_helper(struct mp_obj *o, int idx, uint64_t token,
				 const struct mp_owner *helper)
{
	char tok[24], hp[16], hs[24];
	const char *a[3] = { tok, hp, hs };
	redisReply *rep;
	int rc;

	snprintf(tok, sizeof tok, "%" PRIu64, token);
	snprintf(hp, sizeof hp, "%d", helper->pid);
	snprintf(hs, sizeof hs, "%" PRIu64, helper->start);
	mp_redis_renewer_helper(token, helper->pid);
	rc = eval(o, &mp_redis_gate_helper_script, 3, a, &rep);
	if (rc)
		return rc;
	rc = rep->integer ? 0 : -ENOENT;
	freeReplyObject(rep);
	return rc;
}

static int redis_gate_release_token(struct mp_obj *o, int idx, uint64_t token)
{
	char tok[24];
	const char *a[1] = { tok };
	redisReply *rep;
	int rc;

	mp_redis_renewer_stop(token);
	snprintf(tok, sizeof tok, "%" PRIu64, token);
	rc = eval(o, &mp_redis_drop_script, 1, a, &rep);
	if (rc)
		return rc;
	rc = rep->integer ? 0 : -ENOENT;
	freeReplyObject(rep);
	return rc;
}

static int redis_gate_release(struct mp_obj *o, const struct mp_owner *who, int force,
			      struct mp_hold *out)
{
	char pid[16], start[24];
	const char *a[6] = { o->kind->name, mp_redis_host_id(), pid, start, force ? "1" : "0",
			     who ? "0" : "1" };
	redisReply *rep;
	struct rhold v;
	int rc;

	snprintf(pid, sizeof pid, "%d", who ? who->pid : 0);
	snprintf(start, sizeof start, "%" PRIu64, who ? who->start : 0);
	rc = eval(o, &mp_redis_gate_release_script, 6, a, &rep);
	if (rc)
		return rc;
	switch (rep->element[0]->integer) {
	case 1:
		rc = parse_hold(rep->element[1]->str, &v);
		if (!rc && out)
			hold_out(&v, 0, out);
		if (out)
			out->expires_ns = 0;
		break;
	case -1:
		rc = -EPERM;
		break;
	case -6:
		rc = -ENOLCK;
		break;
	default:
		rc = removed(o);
	}
	freeReplyObject(rep);
	return rc;
}

static int read_info(struct mp_obj *o, redisReply **rep)
{
	const char *a[1] = { o->kind->name };
	int rc = eval(o, &mp_redis_gate_info_script, 1, a, rep);

	if (rc)
		return rc;
	if ((*rep)->type != REDIS_REPLY_ARRAY || (*rep)->elements != 10) {
		rc = (*rep)->elements && (*rep)->element[0]->integer == -2 ? removed(o) : -EMEDIUMTYPE;
		freeReplyObject(*rep);
		return rc;
	}
	return 0;
}

static int redis_gate_drain(struct mp_obj *o, int64_t deadline_ns, int nonblock)
{
	redisContext *sub = NULL;
	redisReply *rep;
	int rc;

	for (;;) {
		long long used;

		rc = read_info(o, &rep);
		if (rc)
			break;
		used = rep->element[0]->integer;
		freeReplyObject(rep);
		if (used == 0)
			break;
		if (nonblock) {
			rc = -EAGAIN;
			break;
		}
		if (!sub) {
			rc = waiter_connection(o, &sub);
			if (rc)
				break;
			continue;
		}
		reap_local(o);
		rc = gate_sleep(o, sub, deadline_ns);
		if (rc)
			break;
	}
	if (sub)
		redisFree(sub);
	return rc;
}

static int redis_gate_info(struct mp_obj *o, struct mp_gate_info *gi, struct mp_hold *holds,
			   int max)
{
	redisReply *rep, *h;
	int64_t server_ms;
	int rc, n = 0;

	reap_local(o);		/* "reaps the dead, then copies the state" */
	rc = read_info(o, &rep);

	if (rc)
		return rc;
	memset(gi, 0, sizeof *gi);
	gi->used = (uint32_t)rep->element[0]->integer;
	gi->capacity = (uint32_t)rep->element[1]->integer;
	gi->last_token = (uint64_t)rep->element[2]->integer;
	gi->reaped = (uint64_t)rep->element[3]->integer;
	gi->created_ns = rep->element[4]->integer * 1000000LL;
	gi->changed_ns = rep->element[5]->integer * 1000000LL;
	server_ms = rep->element[6]->integer;
	gi->nwaiting = (uint32_t)rep->element[7]->integer;
	h = rep->element[8];
	for (size_t i = 0; i < h->elements; i++) {
		struct rhold v;

		if (parse_hold(h->element[i]->str, &v))
			continue;
		if (n < max)
			hold_out(&v, server_ms, &holds[n]);
		n++;
	}
	gi->nholds_live = (uint32_t)n;
	freeReplyObject(rep);
	return n;
}

const struct mp_gate_ops mp_redis_gate_ops = {
	.acquire = redis_gate_acquire,
	.set_helper = redis_gate_set_helper,
	.release_token = redis_gate_release_token,
	.release = redis_gate_release,
	.drain = redis_gate_drain,
	.info = redis_gate_info,
};

const struct mp_lock_ops mp_redis_lock_ops = {
	.open = redis_lock_open,
};

const struct mp_sem_ops mp_redis_sem_ops = {
	.open = redis_sem_open,
	.open_value = redis_sem_open_value,
	.slots = redis_sem_slots,
};
