/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-spawn-lua.c - the scripts of process groups on a Redis store (see
 * redis-spawn.c for the keys).  Each reads and writes in one EVAL.
 *
 * Every writer passes the run id it writes for: a record claimed anew
 * under the name (its group was lost) is never stamped by the old
 * group's supervisor.  Numbers of 64 bits (run ids, CLOCK_REALTIME ns)
 * stay strings in Lua: Redis's Lua numbers are doubles.  Times the
 * server judges (the lease, beats, starts for runtimes) are its TIME in
 * ms. */
#include "config.h"

#include "redis-spawn.h"

#define LUA_PRELUDE \
	"local M, W, CH = KEYS[1], KEYS[2], KEYS[3] " \
	"local function now() local t = redis.call('TIME') " \
	"  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end " \
	"local function gone() if redis.call('EXISTS', M) == 0 then return -2 end " \
	"  if redis.call('HGET', M, 'kind') ~= 'spawn' then return -3 end return 0 end " \
	"local function num(f) return tonumber(redis.call('HGET', M, f) or '0') end " \
	"local function mine(run) return gone() == 0 and redis.call('HGET', M, 'run') == run end " \
	"local function wid(a) local i = tonumber(a) " \
	"  if not i or i < 0 or i >= num('nw') then return nil end return a .. '.' end "

/* ARGV: run, lease ms, the run of a lost group to replace ('' none), then
 * field, value pairs of the new record → {0} claimed, {-1, host, front,
 * keeper, run} busy (a live lease), {-3} not a group */
const struct mp_redis_script mp_redis_spawn_claim_script = { LUA_PRELUDE
	"local t = now() "
	"if redis.call('EXISTS', M) == 1 then "
	"  if gone() == -3 then return {-3} end "
	"  if num('state') ~= 3 and num('until') > t and redis.call('HGET', M, 'run') ~= ARGV[3] then "
	"    local m = redis.call('HMGET', M, 'host', 'front', 'keeper', 'run') "
	"    return {-1, m[1] or '', m[2] or '', m[3] or '', m[4] or ''} end "
	"  redis.call('DEL', M, W) end "
	"redis.call('HSET', M, unpack(ARGV, 4)) "
	"redis.call('HSET', M, 'kind', 'spawn', 'run', ARGV[1], 'state', 1, 'lease', ARGV[2], "
	"  'until', t + tonumber(ARGV[2]), 'kseq', 0, 'ksig', 0, 'kreason', 0, 'msgst', 0, "
	"  'status', -1, 'reason', 0, 'endsig', 0, 'ended', 0, 'keeper', '0 0 0') "
	"redis.call('PUBLISH', CH, 'n') return {0}", 3
};

/* ARGV: run, field ('front' or 'keeper'), owner "pid start ns" → 0, -1
 * (not this run's record any more) */
const struct mp_redis_script mp_redis_spawn_owner_script = { LUA_PRELUDE
	"if not mine(ARGV[1]) then return -1 end "
	"redis.call('HSET', M, ARGV[2], ARGV[3], 'until', now() + num('lease')) return 0", 3
};

/* The keeper's lease.  ARGV: run → {1, kill_seq} renewed, {0} over or
 * not this run's (the keeper stops renewing) */
const struct mp_redis_script mp_redis_spawn_renew_script = { LUA_PRELUDE
	"if not mine(ARGV[1]) or num('state') == 3 then return {0} end "
	"local t = now() redis.call('HSET', M, 'until', t + num('lease')) "
	"if num('flags') % 64 >= 32 then "	/* unnamed: gone some leases after its host */
	"  redis.call('PEXPIRE', M, 5 * num('lease')) redis.call('PEXPIRE', W, 5 * num('lease')) end "
	"return {1, num('kseq')}", 3
};

/* ARGV: run, id, then field, value pairs of worker id ("m0" is set to the
 * server's time, "r+" adds one to the restarts) → 0 or -1 */
const struct mp_redis_script mp_redis_spawn_worker_script = { LUA_PRELUDE
	"if not mine(ARGV[1]) then return -1 end local p = wid(ARGV[2]) "
	"if not p then return -1 end "
	"for i = 3, #ARGV - 1, 2 do local f, v = ARGV[i], ARGV[i + 1] "
	"  if f == 'm0' then v = now() end "
	"  if f == 'r+' then redis.call('HINCRBY', W, p .. 'r', 1) "
	"  else redis.call('HSET', W, p .. f, v) end end "
	"redis.call('PUBLISH', CH, 'w') return 0", 3
};

/* ARGV: run, state (2 stopping, 3 done), reason, sig, status, ended ns.
 * Stopping only a running group; done marks the workers still running
 * killed (their supervisor was lost). → 0 or -1 */
const struct mp_redis_script mp_redis_spawn_state_script = { LUA_PRELUDE
	"if not mine(ARGV[1]) then return -1 end "
	"if ARGV[2] == '2' then if num('state') ~= 1 then return 0 end "
	"  redis.call('HSET', M, 'state', 2, 'reason', ARGV[3], 'endsig', ARGV[4]) "
	"  redis.call('PUBLISH', CH, 's') return 0 end "
	"for i = 0, num('nw') - 1 do local st = redis.call('HGET', W, i .. '.st') "
	"  if st == '1' or st == '2' then "
	"    redis.call('HSET', W, i .. '.st', 4, i .. '.x', 137, i .. '.t1', ARGV[6]) end end "
	"redis.call('HSET', M, 'state', 3, 'reason', ARGV[3], 'endsig', ARGV[4], 'status', ARGV[5], "
	"  'ended', ARGV[6]) "
	"redis.call('PUBLISH', CH, 'd') return 0", 3
};

/* ARGV: run ('': any), sig, reason; posts a request for the keeper and
 * publishes "k" (its thread signals it).  A kill (run '') is refused for a
 * group that is over or whose lease ran out. → {0} posted, {-1} not
 * running, {-2}/{-3} */
const struct mp_redis_script mp_redis_spawn_request_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"if ARGV[1] ~= '' and not mine(ARGV[1]) then return {-1} end "
	"if ARGV[1] == '' and (num('state') == 3 or num('until') <= now()) then return {-1} end "
	"redis.call('HSET', M, 'ksig', ARGV[2], 'kreason', ARGV[3]) "
	"redis.call('HINCRBY', M, 'kseq', 1) redis.call('PUBLISH', CH, 'k') return {0}", 3
};

/* → {kill_seq, sig, reason} or {-2}/{-3} */
const struct mp_redis_script mp_redis_spawn_take_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"return {num('kseq'), num('ksig'), num('kreason')}", 3
};

/* ARGV: run, id → 0, -1 over or not this run's (ESTALE), -5 no such
 * worker */
const struct mp_redis_script mp_redis_spawn_beat_script = { LUA_PRELUDE
	"if not mine(ARGV[1]) or num('state') == 3 then return -1 end "
	"local p = wid(ARGV[2]) if not p then return -5 end "
	"redis.call('HSET', W, p .. 'b', now()) return 0", 3
};

/* ARGV: run, id, status: one message of a pool's worker → 0 or -1 */
const struct mp_redis_script mp_redis_spawn_count_script = { LUA_PRELUDE
	"if not mine(ARGV[1]) then return -1 end local p = wid(ARGV[2]) "
	"if not p then return -1 end "
	"redis.call('HINCRBY', W, p .. 'd', 1) "
	"if ARGV[3] ~= '0' then redis.call('HINCRBY', W, p .. 'f', 1) "
	"  if num('msgst') == 0 then redis.call('HSET', M, 'msgst', ARGV[3]) end end "
	"return 0", 3
};

/* The record: {0, group's fields and values, workers' fields and values,
 * server time ms} or {-2}/{-3} */
const struct mp_redis_script mp_redis_spawn_snap_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"return {0, redis.call('HGETALL', M), redis.call('HGETALL', W), now()}", 3
};

/* What wait and kill look at: {0, state, status, expired (0/1), host,
 * front, keeper, run} or {-2}/{-3} */
const struct mp_redis_script mp_redis_spawn_look_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"local m = redis.call('HMGET', M, 'host', 'front', 'keeper', 'run') "
	"return {0, num('state'), num('status'), num('until') <= now() and 1 or 0, "
	"  m[1] or '', m[2] or '', m[3] or '', m[4] or ''}", 3
};
