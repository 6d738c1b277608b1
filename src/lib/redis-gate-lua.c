/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-gate-lua.c - the server-side scripts of the gate on a Redis
 * store: every change of a lock or semaphore is one of these, run by
 * EVAL, so a client killed anywhere leaves whole state.  See redis-gate.c
 * for the keys and the layout of a hold. */
#include "config.h"

#include "redis-gate.h"

#define WAITER_MS	"3000"	/* a waiter not back by then is dropped */

const char *const mp_redis_gate_keys[] = { ":m", ":h", ":q", ":w", ":c" };

#define LUA_PRELUDE \
	"local M, H, Q, W, CH = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5] " \
	"local function now() local t = redis.call('TIME') " \
	"  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end " \
	"local function dec(s) local v = {} for x in string.gmatch(s, '%S+') do v[#v+1] = x end " \
	"  return {w=tonumber(v[1]), f=tonumber(v[2]), t=tonumber(v[3]), s=tonumber(v[4]), " \
	"    x=tonumber(v[5]), l=tonumber(v[6]), h=v[7], p=tonumber(v[8]), st=v[9], " \
	"    hp=tonumber(v[10]), hs=v[11], ns=v[12] or '0', sl=tonumber(v[13] or 0)} end " \
	"local function enc(v) return table.concat({v.w, v.f, v.t, v.s, v.x, v.l, v.h, v.p, " \
	"  v.st, v.hp, v.hs, v.ns, v.sl}, ' ') end " \
	"local function sweep(t) local used, n = 0, 0 " \
	"  local h = redis.call('HGETALL', H) " \
	"  for i = 1, #h, 2 do local v = dec(h[i+1]) " \
	"    if (v.x > 0 and v.x <= t) or (v.l > 0 and v.l <= t) then " \
	"      redis.call('HDEL', H, h[i]) n = n + 1 else used = used + v.w end end " \
	"  if n > 0 then redis.call('HINCRBY', M, 'reaped', n) end " \
	"  local w = redis.call('HGETALL', W) " \
	"  for i = 1, #w, 2 do local a = tonumber(string.match(w[i+1], '^%S+ (%S+)')) " \
	"    if a <= t then redis.call('HDEL', W, w[i]) redis.call('ZREM', Q, w[i]) n = n + 1 end end " \
	"  if n > 0 then redis.call('PUBLISH', CH, 'f') end " \
	"  return used end " \
	"local function kind_ok(kind) local k = redis.call('HGET', M, 'kind') " \
	"  if not k then return -2 end if k ~= kind then return -3 end return 0 end "

/* ARGV: kind cap(0: do not create) ticket weight flags host pid start
 *       ttl_ms lease_ms nonblock helper_pid helper_start self_pid self_start
 *       pid_namespace self_pid_namespace
 * → {1, token, slot} granted (slot: the least number 0.. no other hold has), {2, 0, ticket} wait, {0, 0, 0} busy,
 *   {-2} no such object, {-3} another kind, {-4} the owner's (or the
 *   waiting process's own) holds leave no room: the wait could never end */
const struct mp_redis_script mp_redis_gate_acquire_script = { LUA_PRELUDE
	"local t0 = now() "
	"if redis.call('EXISTS', M) == 0 then "
	"  if tonumber(ARGV[2]) == 0 then return {-2} end "
	"  redis.call('HSET', M, 'kind', ARGV[1], 'cap', ARGV[2], 'token', 0, 'ticket', 0, "
	"    'reaped', 0, 'created', t0, 'changed', t0) end "
	"local ok = kind_ok(ARGV[1]) if ok ~= 0 then return {ok} end "
	"local used = sweep(t0) "
	"local cap = tonumber(redis.call('HGET', M, 'cap')) "
	"local w, pid = tonumber(ARGV[4]), tonumber(ARGV[7]) "
	"local mine, me = 0, tonumber(ARGV[14]) local h = redis.call('HVALS', H) "
	"for i = 1, #h do local v = dec(h[i]) "
	"  if v.h == ARGV[6] and ((pid ~= 0 and v.p == pid and v.st == ARGV[8]) or "
	"     (v.p == me and v.st == ARGV[15])) then mine = mine + v.w end end "
	"if mine + w > cap then return {-4} end "
	"local tk = tonumber(ARGV[3]) "
	"if tk == 0 then tk = redis.call('HINCRBY', M, 'ticket', 1) end "
	"redis.call('ZADD', Q, tk, tk) "
	"redis.call('HSET', W, tk, table.concat({w, t0 + " WAITER_MS ", ARGV[6], me, ARGV[15], "
	"  ARGV[17], t0}, ' ')) "
	"local head = tonumber(redis.call('ZRANGE', Q, 0, 0)[1]) "
	"if head == tk and used + w <= cap then "
	"  local tok = redis.call('HINCRBY', M, 'token', 1) "
	"  local taken, sl = {}, 0 "
	"  for i = 1, #h do taken[dec(h[i]).sl] = true end "
	"  while taken[sl] do sl = sl + 1 end "
	"  local ttl, lease = tonumber(ARGV[9]), tonumber(ARGV[10]) "
	"  redis.call('HSET', H, tok, enc({w=w, f=tonumber(ARGV[5]), t=tok, s=t0, "
	"    x=(ttl > 0) and (t0 + ttl) or 0, l=(lease > 0) and (t0 + lease) or 0, h=ARGV[6], "
	"    p=pid, st=ARGV[8], hp=tonumber(ARGV[12]), hs=ARGV[13], ns=ARGV[16], sl=sl})) "
	"  redis.call('ZREM', Q, tk) redis.call('HDEL', W, tk) "
	"  redis.call('HSET', M, 'changed', t0) redis.call('PUBLISH', CH, 'g') "
	"  return {1, tok, sl} end "
	"if tonumber(ARGV[11]) == 1 then redis.call('ZREM', Q, tk) redis.call('HDEL', W, tk) "
	"  redis.call('PUBLISH', CH, 'q') return {0, 0, 0} end "
	"return {2, 0, tk}", 5
};

/* ARGV: ticket → leaves the queue */
const struct mp_redis_script mp_redis_gate_cancel_script = { LUA_PRELUDE
	"redis.call('ZREM', Q, ARGV[1]) redis.call('HDEL', W, ARGV[1]) "
	"redis.call('PUBLISH', CH, 'q') return 1", 5
};

/* ARGV: token [owner start] → 1 released, 0 no such hold (with a start:
 * only if the hold's owner has that start time: the reaper's check) */
const struct mp_redis_script mp_redis_drop_script = { LUA_PRELUDE
	"local s = redis.call('HGET', H, ARGV[1]) if not s then return 0 end "
	"if ARGV[2] and dec(s).st ~= ARGV[2] then return 0 end "
	"redis.call('HDEL', H, ARGV[1]) "
	"if ARGV[2] then redis.call('HINCRBY', M, 'reaped', 1) end "
	"redis.call('HSET', M, 'changed', now()) redis.call('PUBLISH', CH, 'f') return 1", 5
};

/* ARGV: token lease_ms → 1 renewed, 0 the hold is gone (a lease that ran
 * out is never brought back: another host may hold the lock by now) */
const struct mp_redis_script mp_redis_renew_script = { LUA_PRELUDE
	"local t = now() sweep(t) "
	"local s = redis.call('HGET', H, ARGV[1]) if not s then return 0 end "
	"local v = dec(s) v.l = t + tonumber(ARGV[2]) redis.call('HSET', H, ARGV[1], enc(v)) "
	"return 1", 5
};

/* ARGV: token helper_pid helper_start → 1, or 0 gone */
const struct mp_redis_script mp_redis_gate_helper_script = { LUA_PRELUDE
	"local s = redis.call('HGET', H, ARGV[1]) if not s then return 0 end "
	"local v = dec(s) v.hp = tonumber(ARGV[2]) v.hs = ARGV[3] "
	"redis.call('HSET', H, ARGV[1], enc(v)) return 1", 5
};

/* ARGV: kind host pid start force any → {1, hold} released, {-1} held,
 * but not by that owner, {-6} not held at all, {-2}/{-3} */
const struct mp_redis_script mp_redis_gate_release_script = { LUA_PRELUDE
	"local ok = kind_ok(ARGV[1]) if ok ~= 0 then return {ok} end "
	"local t0 = now() sweep(t0) "
	"local h = redis.call('HGETALL', H) "
	"if #h == 0 then return {-6} end "
	"local pick, anon, oldest = nil, nil, nil "
	"for i = 1, #h, 2 do local v = dec(h[i+1]) "
	"  if ARGV[6] == '0' and v.h == ARGV[2] and v.p == tonumber(ARGV[3]) and "
	"     (v.p == 0 or v.st == ARGV[4]) and (not pick or v.t < pick.t) then pick = v end "
	"  if v.p == 0 and (not anon or v.t < anon.t) then anon = v end "
	"  if not oldest or v.t < oldest.t then oldest = v end end "
	"if not pick and anon and ARGV[6] == '0' then pick = anon end "
	"if not pick and ARGV[5] == '1' then pick = oldest end "
	"if not pick then return {-1} end "
	"redis.call('HDEL', H, pick.t) redis.call('HSET', M, 'changed', t0) "
	"redis.call('PUBLISH', CH, 'f') return {1, enc(pick)}", 5
};

/* ARGV: kind → {used, cap, last_token, reaped, created, changed, now,
 *   nwaiting, {holds...}, {waiters...}} or {-2}/{-3} */
const struct mp_redis_script mp_redis_gate_info_script = { LUA_PRELUDE
	"local ok = kind_ok(ARGV[1]) if ok ~= 0 then return {ok} end "
	"local t0 = now() local used = sweep(t0) "
	"local m = redis.call('HMGET', M, 'cap', 'token', 'reaped', 'created', 'changed') "
	"return {used, tonumber(m[1]), tonumber(m[2]), tonumber(m[3]), tonumber(m[4]), "
	"  tonumber(m[5]), t0, redis.call('ZCARD', Q), redis.call('HVALS', H), "
	"  redis.call('HGETALL', W)}", 5
};


/* ARGV: kind cap(0: do not create) held host → {1, cap} made, {0, cap}
 * there, {-2} missing, {-3} another kind; held: units that start held
 * with no owner (mpsem create --value) */
const struct mp_redis_script mp_redis_gate_open_script = { LUA_PRELUDE
	"if redis.call('EXISTS', M) == 0 then "
	"  if tonumber(ARGV[2]) == 0 then return {-2} end local t0 = now() "
	"  redis.call('HSET', M, 'kind', ARGV[1], 'cap', ARGV[2], 'token', 0, 'ticket', 0, "
	"    'reaped', 0, 'created', t0, 'changed', t0) "
	"  for i = 1, tonumber(ARGV[3]) do local tok = redis.call('HINCRBY', M, 'token', 1) "
	"    redis.call('HSET', H, tok, enc({w=1, f=0, t=tok, s=t0, x=0, l=0, h=ARGV[4], p=0, "
	"      st='0', hp=0, hs='0', ns='0', sl=i-1})) end "
	"  return {1, tonumber(ARGV[2])} end "
	"local ok = kind_ok(ARGV[1]) if ok ~= 0 then return {ok} end "
	"return {0, tonumber(redis.call('HGET', M, 'cap'))}", 5
};
