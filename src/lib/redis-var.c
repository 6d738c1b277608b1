/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-var.c - shared values on a Redis server; see redis.h and var.h.
 *
 * PREFIX:{var:NAME}:m is a hash: kind, max (the size limit, fixed at
 * creation), set (0/1), v (the value, binary-safe), ver (bumped by every
 * change), setms (server time of the last change), created.  Every verb
 * is one script, so a client killed at any instruction leaves the old
 * value or the new one, never a mix; every change publishes "v" on ":c"
 * (rm publishes "r").
 *
 * Redis runs Lua 5.1, whose numbers are doubles: an integer of 64 bits
 * never passes through a Lua number.  incr/decr check the value's text
 * against var.h's grammar in Lua, write it canonical into a scratch field
 * and let HINCRBY add (exact, and it refuses an overflow); the sum is read
 * back as text.
 *
 * A wait subscribes first, then reads the value and tests the condition
 * here; every message (or a second passing) reads it again, so a change
 * that makes the condition hold is never missed.  Waiters list themselves
 * in ":w" (host:pid → "since alive_until"), renewed each second, for info.
 */
#include "config.h"

#include "redis.h"
#include "clock.h"
#include "err.h"
#include "signals.h"
#include "store.h"
#include "var.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLICE_NS	(1000 * 1000000LL)	/* a waiter looks again (and stays listed) */

static const char *const var_keys[] = { ":m", ":w", ":c" };

#define VAR_PRELUDE \
	"local M, W, CH = KEYS[1], KEYS[2], KEYS[3] " \
	"local function now() local t = redis.call('TIME') " \
	"  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end " \
	"local function gone() if redis.call('EXISTS', M) == 0 then return -2 end " \
	"  if redis.call('HGET', M, 'kind') ~= 'var' then return -3 end return 0 end " \
	"local function put(v, s) redis.call('HSET', M, 'set', s, 'v', v, 'setms', now()) " \
	"  redis.call('HINCRBY', M, 'ver', 1) redis.call('PUBLISH', CH, 'v') end " \
	"local function fits(v) return #v <= tonumber(redis.call('HGET', M, 'max')) end "

/* ARGV: create (0/1), max → {0 exists / 1 made, max} or {-2}/{-3} */
static const struct mp_redis_script open_script = { VAR_PRELUDE
	"if redis.call('EXISTS', M) == 0 then "
	"  if ARGV[1] == '0' then return {-2} end local t = now() "
	"  redis.call('HSET', M, 'kind', 'var', 'max', ARGV[2], 'set', 0, 'v', '', 'ver', 0, "
	"    'setms', 0, 'created', t) return {1, tonumber(ARGV[2])} end "
	"local g = gone() if g < 0 then return {g} end "
	"return {0, tonumber(redis.call('HGET', M, 'max'))}", 3
};

/* → {set, value} or {-2}/{-3} */
static const struct mp_redis_script get_script = { VAR_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"local m = redis.call('HMGET', M, 'set', 'v') return {tonumber(m[1]), m[2]}", 3
};

/* ARGV: value, nx (0/1) → 0 set, 1 (nx) it was set, -4 too big, -2, -3 */
static const struct mp_redis_script set_script = { VAR_PRELUDE
	"local g = gone() if g < 0 then return g end "
	"if ARGV[2] == '1' and redis.call('HGET', M, 'set') == '1' then return 1 end "
	"if not fits(ARGV[1]) then return -4 end "
	"put(ARGV[1], 1) return 0", 3
};

/* → 0 unset now, 1 it was unset, -2, -3 */
static const struct mp_redis_script unset_script = { VAR_PRELUDE
	"local g = gone() if g < 0 then return g end "
	"if redis.call('HGET', M, 'set') ~= '1' then return 1 end "
	"put('', 0) return 0", 3
};

/* ARGV: delta, init ('': 0) → {0, sum} or {-5} (not an integer), {-6,
 * base} (overflow), {-4, len} (too big), {-2}/{-3} */
static const struct mp_redis_script add_script = { VAR_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"local m = redis.call('HMGET', M, 'set', 'v') "
	"local v = m[1] == '1' and m[2] or (ARGV[2] ~= '' and ARGV[2] or '0') "
	"local sign, d = string.match(v, '^([+-]?)(%d+)$') "
	"if not d or #d > 19 then return {-5} end "
	"d = string.gsub(d, '^0+', '') if d == '' then d = '0' end "
	"if sign == '-' and d ~= '0' then d = '-' .. d end "
	"redis.call('HSET', M, 'tmp', d) "
	"local r = redis.pcall('HINCRBY', M, 'tmp', 0) "
	"if type(r) == 'table' and r.err then redis.call('HDEL', M, 'tmp') return {-5} end "
	"r = redis.pcall('HINCRBY', M, 'tmp', ARGV[1]) "
	"if type(r) == 'table' and r.err then redis.call('HDEL', M, 'tmp') return {-6, d} end "
	"local sum = redis.call('HGET', M, 'tmp') redis.call('HDEL', M, 'tmp') "
	"if not fits(sum) then return {-4, #sum} end "
	"put(sum, 1) return {0, sum}", 3
};

/* ARGV: old, new → {0} swapped, {1, set, value} not, {-4}, {-2}/{-3} */
static const struct mp_redis_script cas_script = { VAR_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"local m = redis.call('HMGET', M, 'set', 'v') "
	"if m[1] == '1' and m[2] == ARGV[1] then "
	"  if not fits(ARGV[2]) then return {-4} end put(ARGV[2], 1) return {0} end "
	"return {1, tonumber(m[1]), m[2]}", 3
};

/* ARGV: waiter id ('': none), its record ('' with an id: leave), "1" to
 * count the live waiters (the stale go) → {set, value, ver, setms, max,
 * created, nwaiters} or {-2}/{-3} */
static const struct mp_redis_script state_script = { VAR_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"local t = now() "
	"if ARGV[1] ~= '' then "
	"  if ARGV[2] == '' then redis.call('HDEL', W, ARGV[1]) "
	"  else redis.call('HSET', W, ARGV[1], ARGV[2] .. ' ' .. (t + 3000)) end end "
	"local n = 0 "
	"if ARGV[3] == '1' then local w = redis.call('HGETALL', W) "
	"  for i = 1, #w, 2 do if tonumber(string.match(w[i+1], '(%S+)$')) <= t then "
	"    redis.call('HDEL', W, w[i]) else n = n + 1 end end end "
	"local m = redis.call('HMGET', M, 'set', 'v', 'ver', 'setms', 'max', 'created') "
	"return {tonumber(m[1]), m[2], tonumber(m[3]), tonumber(m[4]), tonumber(m[5]), "
	"  tonumber(m[6]), n}", 3
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
	return mp_redis_eval_len(robj(o)->s, sc, robj(o)->base, var_keys, nargs, args, lens, rep);
}

static int status_of(const struct mp_obj *o, long long v)
{
	return mp_redis_kind_status(o, v, "variable", "a variable");
}

static int too_big(const struct mp_obj *o, size_t len)
{
	mp_errmsg_set("value of %zu bytes is over variable '%s''s limit of %u bytes", len,
		      o->name, robj(o)->cap);
	return -EMSGSIZE;
}

/* The integer reply rep (or the first element of an array reply). */
static long long code_of(const redisReply *rep)
{
	if (rep->type == REDIS_REPLY_ARRAY)
		return rep->elements ? rep->element[0]->integer : -1;
	return rep->integer;
}

/* Copies a bulk string reply into buf (cap bytes). */
static size_t copy_str(const redisReply *r, void *buf, size_t cap)
{
	size_t n = r->type == REDIS_REPLY_STRING ? r->len : 0;

	if (n > cap)
		n = cap;
	if (n)
		memcpy(buf, r->str, n);
	return n;
}

static int redis_var_open(struct mp_store *s, const char *name, int create, uint64_t max_size,
			  int *created, struct mp_obj *o)
{
	char max[24];
	const char *a[2] = { create ? "1" : "0", max };
	redisReply *rep;
	int rc;

	snprintf(max, sizeof max, "%" PRIu64, max_size);	/* checked by mp_var_open */
	mp_redis_obj_init(s, &mp_var_kind, name, o);
	rc = eval(o, &open_script, 2, a, NULL, &rep);
	if (!rc) {
		long long c = code_of(rep);

		if (c == -2) {
			mp_errmsg_set("no variable named '%s' (in %s)", name, s->dir);
			rc = -ENOENT;
		} else {
			rc = status_of(o, c);
		}
		if (!rc && rep->elements == 2) {
			robj(o)->cap = (uint32_t)rep->element[1]->integer;
			if (created)
				*created = c == 1;
		}
		freeReplyObject(rep);
	}
	if (rc && o->close)
		o->close(o);
	return rc;
}

/* The size limit: known after open; an object found by the common verbs
 * (store.h: find) reads it from the server the first time. */
static uint64_t redis_var_max_size(const struct mp_obj *o)
{
	const char *a[3] = { "", "", "0" };
	redisReply *rep;

	if (!o->impl)
		return 0;
	if (!robj(o)->cap && !eval(o, &state_script, 3, a, NULL, &rep)) {
		if (rep->elements == 7)
			robj(o)->cap = (uint32_t)rep->element[4]->integer;
		freeReplyObject(rep);
	}
	return robj(o)->cap;
}

static int redis_var_get(struct mp_obj *o, void *buf, size_t cap, size_t *len)
{
	redisReply *rep;
	int rc;

	if (cap < redis_var_max_size(o))
		return -ENOBUFS;
	rc = eval(o, &get_script, 0, NULL, NULL, &rep);
	if (rc)
		return rc;
	rc = status_of(o, code_of(rep));
	if (!rc) {
		rc = rep->element[0]->integer == 1;
		*len = rc ? copy_str(rep->element[1], buf, cap) : 0;
	}
	freeReplyObject(rep);
	return rc;
}

static int redis_var_set(struct mp_obj *o, const void *v, size_t len, int nx)
{
	const char *a[2] = { v ? v : "", nx ? "1" : "0" };
	size_t l[2] = { len, 1 };
	redisReply *rep;
	int rc;

	if (len > redis_var_max_size(o))
		return too_big(o, len);
	rc = eval(o, &set_script, 2, a, l, &rep);
	if (rc)
		return rc;
	rc = rep->integer == -4 ? too_big(o, len) : status_of(o, rep->integer);
	if (!rc)
		rc = (int)rep->integer;
	freeReplyObject(rep);
	return rc;
}

static int redis_var_unset(struct mp_obj *o)
{
	redisReply *rep;
	int rc = eval(o, &unset_script, 0, NULL, NULL, &rep);

	if (rc)
		return rc;
	rc = status_of(o, rep->integer);
	if (!rc)
		rc = (int)rep->integer;
	freeReplyObject(rep);
	return rc;
}

static int redis_var_add(struct mp_obj *o, int64_t delta, const int64_t *init, int64_t *result)
{
	char d[24], i[24] = "";
	const char *a[2] = { d, i };
	redisReply *rep;
	long long c;
	int rc;

	snprintf(d, sizeof d, "%" PRId64, delta);
	if (init)
		snprintf(i, sizeof i, "%" PRId64, *init);
	rc = eval(o, &add_script, 2, a, NULL, &rep);
	if (rc)
		return rc;
	c = code_of(rep);
	if (c == -5) {
		mp_errmsg_set("variable '%s' does not hold an integer", o->name);
		rc = -EDOM;
	} else if (c == -6) {
		mp_errmsg_set("variable '%s': %s %c %llu does not fit in 64 bits", o->name,
			      rep->element[1]->str, delta < 0 ? '-' : '+',
			      delta < 0 ? 0 - (unsigned long long)delta : (unsigned long long)delta);
		rc = -EOVERFLOW;
	} else if (c == -4) {
		rc = too_big(o, (size_t)rep->element[1]->integer);
	} else {
		rc = status_of(o, c);
		if (!rc && mp_var_parse_int(rep->element[1]->str, rep->element[1]->len, result))
			rc = -EPROTO;
	}
	freeReplyObject(rep);
	return rc;
}

static int redis_var_cas(struct mp_obj *o, const void *old, size_t oldlen, const void *nv,
			 size_t newlen, void *cur, size_t cap, size_t *curlen, int *curset)
{
	const char *a[2] = { old ? old : "", nv ? nv : "" };
	size_t l[2] = { oldlen, newlen };
	redisReply *rep;
	long long c;
	int rc;

	if (newlen > redis_var_max_size(o))
		return too_big(o, newlen);
	if (cap < redis_var_max_size(o))
		return -ENOBUFS;
	rc = eval(o, &cas_script, 2, a, l, &rep);
	if (rc)
		return rc;
	c = code_of(rep);
	rc = c == -4 ? too_big(o, newlen) : status_of(o, c);
	if (!rc && c == 1) {
		*curset = rep->element[1]->integer == 1;
		*curlen = *curset ? copy_str(rep->element[2], cur, cap) : 0;
		rc = 1;
	}
	freeReplyObject(rep);
	return rc;
}

/* The state; rec: list this waiter with that record ("" to leave, NULL:
 * only look); count: also count the live waiters. */
static int state(struct mp_obj *o, const char *rec, int count, redisReply **rep)
{
	char id[200] = "";
	const char *a[3] = { id, rec ? rec : "", count ? "1" : "0" };
	int rc;

	if (rec)
		snprintf(id, sizeof id, "%s:%d", mp_redis_host_id(), (int)getpid());
	rc = eval(o, &state_script, 3, a, NULL, rep);
	if (rc)
		return rc;
	if ((*rep)->elements != 7) {
		rc = status_of(o, code_of(*rep));
		freeReplyObject(*rep);
		return rc ? rc : -EPROTO;
	}
	return 0;
}

/* 1 if c holds now (listing or unlisting the waiter as look does). */
static int look(struct mp_obj *o, const struct mp_var_cond *c, const char *rec)
{
	redisReply *rep;
	int rc = state(o, rec, 0, &rep);

	if (rc)
		return rc;
	rc = mp_var_cond_holds(c, rep->element[0]->integer == 1, rep->element[1]->str,
			       rep->element[1]->len);
	freeReplyObject(rep);
	return rc;
}


static int redis_var_wait(struct mp_obj *o, const struct mp_var_cond *c, int64_t deadline_ns,
			  int nonblock)
{
	const char *bases[1] = { o->impl ? robj(o)->base : "" };
	redisContext *sub = NULL;
	char rec[48];
	int rc;

	if (nonblock) {
		rc = look(o, c, NULL);
		return rc == 0 ? -EAGAIN : rc == 1 ? 0 : rc;
	}
	snprintf(rec, sizeof rec, "%lld", (long long)(mp_clock_ns(CLOCK_REALTIME) / 1000000));
	rc = mp_redis_waiter(robj(o)->s, &sub, bases, 1);
	for (;;) {
		if (!rc)
			rc = look(o, c, rec);	/* subscribed first: no change is missed */
		if (rc == 1) {
			rc = 0;
			break;
		}
		if (!rc && mp_signal_pending)
			rc = -EINTR;
		if (!rc && deadline_ns && mp_now_ns() >= deadline_ns)
			rc = -ETIMEDOUT;
		if (!rc)
			rc = mp_redis_sleep(sub, robj(o)->base, SLICE_NS, deadline_ns);
		if (rc == -EIDRM)
			mp_errmsg_set("variable '%s' was removed", o->name);
		if (rc == -ENOTCONN)
			rc = mp_redis_rewait(robj(o)->s, &sub, bases, 1, deadline_ns);
		if (rc)
			break;
	}
	if (rc != -EIDRM && rc != -ENOTCONN) {
		redisReply *rep;

		if (!state(o, "", 0, &rep))	/* off the list */
			freeReplyObject(rep);
	}
	if (sub)
		redisFree(sub);
	return rc;
}

static int redis_var_info(struct mp_obj *o, struct mp_var_info *vi, void *buf, size_t cap)
{
	redisReply *rep;
	int rc;

	if (buf && cap < redis_var_max_size(o))
		return -ENOBUFS;
	rc = state(o, NULL, 1, &rep);
	if (rc)
		return rc;
	memset(vi, 0, sizeof *vi);
	vi->st.is_set = rep->element[0]->integer == 1;
	vi->st.len = vi->st.is_set ? rep->element[1]->len : 0;
	if (buf)
		copy_str(rep->element[1], buf, cap);
	vi->st.version = (uint64_t)rep->element[2]->integer;
	vi->st.set_ns = rep->element[3]->integer * 1000000LL;
	vi->max_size = (uint64_t)rep->element[4]->integer;
	vi->created_ns = rep->element[5]->integer * 1000000LL;
	vi->nwaiting = (uint32_t)rep->element[6]->integer;
	vi->generation = vi->st.version;
	rc = (int)vi->st.is_set;
	freeReplyObject(rep);
	return rc;
}

const struct mp_var_ops mp_redis_var_ops = {
	.open = redis_var_open,
	.max_size = redis_var_max_size,
	.get = redis_var_get,
	.set = redis_var_set,
	.unset = redis_var_unset,
	.add = redis_var_add,
	.cas = redis_var_cas,
	.wait = redis_var_wait,
	.info = redis_var_info,
};
