/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-event.c - events on a Redis server; see redis.h.
 *
 * PREFIX:{event:NAME}:m holds the flag and its counts; every set and clear
 * is one script that changes them and publishes "s" or "c" on ":c" (rm
 * publishes "r").  A waiter subscribes first, then looks at the flag, then
 * reads messages: a set that is cleared again at once still reaches every
 * waiter, as a message, and --next waits for the first one after the
 * call.  Waiters list themselves in ":w" (host:pid → "flags since
 * alive_until"), renewed every second, for info.
 */
#include "config.h"

#include "redis.h"
#include "clock.h"
#include "err.h"
#include "event.h"
#include "owner.h"
#include "signals.h"
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLICE_NS	(1000 * 1000000LL)

static const char *const event_keys[] = { ":m", ":w", ":c" };

#define EV_PRELUDE \
	"local M, W, CH = KEYS[1], KEYS[2], KEYS[3] " \
	"local function now() local t = redis.call('TIME') " \
	"  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end " \
	"local function make(t) if redis.call('EXISTS', M) == 1 then " \
	"    if redis.call('HGET', M, 'kind') ~= 'event' then return -3 end return 0 end " \
	"  redis.call('HSET', M, 'kind', 'event', 'set', 0, 'since', t, 'sets', 0, 'clears', 0, " \
	"    'setms', 0, 'clearms', 0, 'created', t, 'gen', 0) return 1 end "

/* ARGV: create(0/1) → 0 exists, 1 made, -2 missing, -3 another kind */
static const struct mp_redis_script open_script = { EV_PRELUDE
	"if ARGV[1] == '0' and redis.call('EXISTS', M) == 0 then return -2 end "
	"return make(now())", 3
};

/* ARGV: 1 set / 0 clear → 0, or -3 */
/* ARGV: waiter id → forgets a waiter that is gone */
static const struct mp_redis_script forget_script = { EV_PRELUDE
	"return redis.call('HDEL', W, ARGV[1])", 3
};

static const struct mp_redis_script change_script = { EV_PRELUDE
	"local t = now() local ok = make(t) if ok < 0 then return ok end "
	"local to = tonumber(ARGV[1]) "
	"if tonumber(redis.call('HGET', M, 'set')) ~= to then "
	"  redis.call('HSET', M, 'set', to, 'since', t) end "
	"if to == 1 then redis.call('HINCRBY', M, 'sets', 1) redis.call('HSET', M, 'setms', t) "
	"else redis.call('HINCRBY', M, 'clears', 1) redis.call('HSET', M, 'clearms', t) end "
	"redis.call('HINCRBY', M, 'gen', 1) "
	"redis.call('PUBLISH', CH, to == 1 and 's' or 'c') return 0", 3
};

/* ARGV: waiter id (host:pid), its record ("flags since") or "" to leave
 * (no id: only look), and "1" to list the waiters (info: then the stale
 * ones go) → {set, since, sets, clears, setms, clearms, created, gen,
 * nwaiters, {waiter records}} or {-2}/{-3}.  Only info reads the whole
 * waiter table: a thousand waiters renewing their entries stay O(1) each. */
static const struct mp_redis_script state_script = { EV_PRELUDE
	"if redis.call('EXISTS', M) == 0 then return {-2} end "
	"if redis.call('HGET', M, 'kind') ~= 'event' then return {-3} end "
	"local t = now() "
	"if ARGV[1] ~= '' then "
	"  if ARGV[2] == '' then redis.call('HDEL', W, ARGV[1]) "
	"  else redis.call('HSET', W, ARGV[1], ARGV[2] .. ' ' .. (t + 3000)) end end "
	"local live = {} "
	"if ARGV[3] == '1' then local w = redis.call('HGETALL', W) "
	"  for i = 1, #w, 2 do if tonumber(string.match(w[i+1], '(%S+)$')) <= t then "
	"    redis.call('HDEL', W, w[i]) else live[#live+1] = w[i] .. ' ' .. w[i+1] end end end "
	"local m = redis.call('HMGET', M, 'set', 'since', 'sets', 'clears', 'setms', 'clearms', "
	"  'created', 'gen') "
	"return {tonumber(m[1]), tonumber(m[2]), tonumber(m[3]), tonumber(m[4]), tonumber(m[5]), "
	"  tonumber(m[6]), tonumber(m[7]), tonumber(m[8]), #live, live}", 3
};

static struct mp_robj *robj(const struct mp_obj *o)
{
	return o->impl;
}

static int eval(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
		const char *const *args, redisReply **rep)
{
	if (!o->impl)
		return -ENOMEM;
	return mp_redis_eval(robj(o)->s, sc, robj(o)->base, event_keys, nargs, args, rep);
}

static int status_of(const struct mp_obj *o, long long v)
{
	return mp_redis_kind_status(o, v, "event", "an event");
}

static int redis_event_open(struct mp_store *s, const char *name, int create, struct mp_obj *o)
{
	const char *a[1] = { create ? "1" : "0" };
	redisReply *rep;
	int rc;

	mp_redis_obj_init(s, &mp_event_kind, name, o);
	rc = eval(o, &open_script, 1, a, &rep);
	if (!rc) {
		if (rep->integer == -2) {
			mp_errmsg_set("no event named '%s' (in %s)", name, s->dir);
			rc = -ENOENT;
		} else {
			rc = status_of(o, rep->integer);
		}
		freeReplyObject(rep);
	}
	if (rc) {
		free(o->impl);
		o->impl = NULL;
	}
	return rc;
}

static int change(struct mp_obj *o, int to)
{
	const char *a[1] = { to ? "1" : "0" };
	redisReply *rep;
	int rc = eval(o, &change_script, 1, a, &rep);

	if (rc)
		return rc;
	rc = status_of(o, rep->integer);
	freeReplyObject(rep);
	return rc;
}

static int redis_event_set(struct mp_obj *o)
{
	return change(o, 1);
}

static int redis_event_clear(struct mp_obj *o)
{
	return change(o, 0);
}

/* The state, listing (rec != NULL, "" to leave) this waiter; with list,
 * also the waiters. */
static int state(const struct mp_obj *o, const char *rec, int list, redisReply **rep)
{
	char id[200];
	const char *a[3] = { "", rec ? rec : "", list ? "1" : "0" };
	int rc;

	if (rec) {
		snprintf(id, sizeof id, "%s:%d", mp_redis_host_id(), (int)getpid());
		a[0] = id;
	}
	rc = eval(o, &state_script, 3, a, rep);
	if (rc)
		return rc;
	if ((*rep)->elements != 10) {
		rc = status_of(o, (*rep)->element[0]->integer);
		freeReplyObject(*rep);
		return rc ? rc : -EPROTO;
	}
	return 0;
}

static int redis_event_is_set(struct mp_obj *o)
{
	redisReply *rep;
	int rc = state(o, NULL, 0, &rep);

	if (rc)
		return rc;
	rc = (int)rep->element[0]->integer;
	freeReplyObject(rep);
	return rc;
}

struct ewait {
	struct mp_obj *objs;
	int n;
	unsigned flags;
	char rec[96];
	const char *bases[MP_EVENT_WAIT_MAX];
	unsigned char sat[MP_EVENT_WAIT_MAX];
};

/* 1 with *fired when the wait is over, else 0. */
static int satisfied(const struct ewait *w, int *fired)
{
	int all = 1;

	for (int i = 0; i < w->n; i++) {
		if (w->sat[i] && !(w->flags & MP_EVENT_ALL)) {
			*fired = i;
			return 1;
		}
		all &= w->sat[i];
	}
	if (all && (w->flags & MP_EVENT_ALL))
		*fired = -1;
	return all && (w->flags & MP_EVENT_ALL);
}

enum { LOOK_LISTED, LOOK_LEAVE, LOOK_ONLY };

/* Takes the level of every event now and lists the waiter on each
 * (LOOK_LISTED), takes it off (LOOK_LEAVE) or only looks (LOOK_ONLY: -n). */
static int look(struct ewait *w, int how, int *fired)
{
	int leave = how == LOOK_LEAVE;

	for (int i = 0; i < w->n; i++) {
		redisReply *rep;
		int rc = state(&w->objs[i], how == LOOK_ONLY ? NULL : leave ? "" : w->rec, 0, &rep);

		if (rc) {
			*fired = i;
			return rc;
		}
		if (!leave && !(w->flags & MP_EVENT_NEXT) &&
		    (rep->element[0]->integer == 1) == !(w->flags & MP_EVENT_CLEARED))
			w->sat[i] = 1;
		freeReplyObject(rep);
	}
	return 0;
}

static int wait_messages(struct ewait *w, redisContext *sub, int64_t deadline_ns, int *fired)
{
	char want = (w->flags & MP_EVENT_CLEARED) ? 'c' : 's', msg[16];
	int64_t renew_at = mp_now_ns() + SLICE_NS;

	for (;;) {
		int64_t end = renew_at;
		int idx, rc;

		if (deadline_ns && deadline_ns < end)
			end = deadline_ns;
		rc = mp_redis_next_message(sub, w->bases, w->n, end, &idx, msg, sizeof msg);
		if (rc < 0)
			return rc;
		if (rc == 1 && msg[0] == 'r') {
			*fired = idx;
			mp_errmsg_set("event '%s' was removed", w->objs[idx].name);
			return -EIDRM;
		}
		if (rc == 1 && msg[0] == want)
			w->sat[idx] = 1;
		if (satisfied(w, fired))
			return 0;
		if (deadline_ns && mp_now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		if (mp_now_ns() >= renew_at) {
			int f;
			unsigned char keep[MP_EVENT_WAIT_MAX];

			/* only to stay listed; a level seen now was a message */
			memcpy(keep, w->sat, sizeof keep);
			rc = look(w, LOOK_LISTED, &f);
			memcpy(w->sat, keep, sizeof keep);
			if (rc) {
				*fired = f;
				return rc;
			}
			renew_at = mp_now_ns() + SLICE_NS;
		}
	}
}

static int redis_event_wait(struct mp_obj *objs, int n, unsigned flags, int64_t deadline_ns,
			    int nonblock, int *fired)
{
	struct ewait *w = calloc(1, sizeof *w);
	struct mp_owner self;
	redisContext *sub = NULL;
	int rc;

	*fired = 0;
	if (!w || !objs[0].impl)
		return -ENOMEM;
	w->objs = objs;
	w->n = n;
	w->flags = flags;
	if (mp_owner_of(0, &self))
		memset(&self, 0, sizeof self);
	snprintf(w->rec, sizeof w->rec, "%u %lld %" PRIu64 " %" PRIu64,
		 flags & (MP_EVENT_CLEARED | MP_EVENT_NEXT),
		 (long long)(mp_clock_ns(CLOCK_REALTIME) / 1000000), self.start, self.pidns);
	for (int i = 0; i < n; i++)
		w->bases[i] = robj(&objs[i])->base;
	if (!nonblock) {
		rc = mp_redis_waiter(robj(&objs[0])->s, &sub, w->bases, n);
		if (rc)
			goto out;
	}
	rc = look(w, nonblock ? LOOK_ONLY : LOOK_LISTED, fired);
	if (rc)
		goto out;
	if (satisfied(w, fired))
		rc = 0;
	else if (nonblock)
		rc = -EAGAIN;
	else
		rc = wait_messages(w, sub, deadline_ns, fired);
	/* the server went away mid-wait: connect and look again until the
	 * deadline (a set made while it was away is seen as a level only) */
	while (rc == -ENOTCONN && !nonblock) {
		rc = mp_redis_rewait(robj(&objs[0])->s, &sub, w->bases, n, deadline_ns);
		if (!rc)
			rc = look(w, LOOK_LISTED, fired);
		if (!rc)
			rc = satisfied(w, fired) ? 0 : wait_messages(w, sub, deadline_ns, fired);
	}
	if (!nonblock) {
		int f;
		look(w, LOOK_LEAVE, &f);
	}
out:
	if (sub)
		redisFree(sub);
	free(w);
	return rc;
}

/* A listed waiter "HOST:PID flags since start pidns alive": 1 if it is a
 * process of this host (and pid namespace) that is gone. */
static int waiter_gone(const char *rec, struct mp_event_waiter *out, char *id, size_t idlen)
{
	const char *colon = strrchr(rec, ':'), *sp = strchr(rec, ' ');
	struct mp_owner who = { 0 };
	const char *me = mp_redis_host_id();
	long long since = 0;
	unsigned flags = 0;

	if (!colon || !sp || sp < colon)
		return 0;
	snprintf(id, idlen, "%.*s", (int)(sp - rec), rec);
	sscanf(colon + 1, "%d %u %lld %" SCNu64 " %" SCNu64, &who.pid, &flags, &since, &who.start,
	       &who.pidns);
	memset(out, 0, sizeof *out);
	out->pid = who.pid;
	out->flags = flags;
	out->since_ns = since * 1000000LL;
	out->start = who.start;
	out->pidns = who.pidns;
	return (size_t)(colon - rec) == strlen(me) && !strncmp(rec, me, strlen(me)) && who.pid > 0 &&
	       !mp_owner_alive(&who);
}

static int redis_event_info(struct mp_obj *o, struct mp_event_info *ei, struct mp_event_waiter *wt,
			    int max)
{
	redisReply *rep, *live;
	int rc = state(o, NULL, 1, &rep), n = 0;

	if (rc)
		return rc;
	memset(ei, 0, sizeof *ei);
	ei->st.is_set = (uint32_t)rep->element[0]->integer;
	ei->st.since_ns = rep->element[1]->integer * 1000000LL;
	ei->st.sets = (uint64_t)rep->element[2]->integer;
	ei->st.clears = (uint64_t)rep->element[3]->integer;
	ei->st.set_ns = rep->element[4]->integer * 1000000LL;
	ei->st.clear_ns = rep->element[5]->integer * 1000000LL;
	ei->created_ns = rep->element[6]->integer * 1000000LL;
	ei->generation = (uint64_t)rep->element[7]->integer;
	live = rep->element[9];
	for (size_t i = 0; i < live->elements; i++) {
		struct mp_event_waiter one;
		char id[200];

		if (waiter_gone(live->element[i]->str, &one, id, sizeof id)) {
			const char *a[1] = { id };
			redisReply *r2;

			/* gone from this host: forget it now, not in 3 s */
			if (!eval(o, &forget_script, 1, a, &r2))
				freeReplyObject(r2);
			continue;
		}
		if (n < max)
			wt[n] = one;
		n++;
	}
	ei->nwaiting = (uint32_t)n;
	freeReplyObject(rep);
	return n;
}

const struct mp_event_ops mp_redis_event_ops = {
	.open = redis_event_open,
	.set = redis_event_set,
	.clear = redis_event_clear,
	.is_set = redis_event_is_set,
	.wait = redis_event_wait,
	.info = redis_event_info,
};
